"""What the store offers its readers: the board as the chef should see it.

The store (caterking_display.store) produces these values; the UI and the sync layer
consume them. Everything here is immutable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from caterking_display.domain.actions import Action
from caterking_display.domain.task import Staff, Task


@dataclass(frozen=True, slots=True)
class PendingOp:
    """A chef's intent, durable in the outbox until the server answers it."""

    op_id: str
    action: Action
    task_id: str
    staff_id: str
    device: str
    created_at: datetime
    attempts: int = 0  # sends that may have reached the server (not refused connections)
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class ViewTask:
    """A task as shown: the confirmed row with pending ops applied on top."""

    task: Task
    pending: bool  # a local change not yet confirmed by the server
    pending_action: Action | None = None


UNKNOWN_CHEF = "someone"
"""The name shown for a staff id the board does not know (yet): one word everywhere."""


class NoticeKind(StrEnum):
    CONFLICT = "conflict"
    REJECTED = "rejected"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the chef must be told (a conflict is never silent)."""

    kind: NoticeKind
    message: str
    task_id: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class FailedAction:
    """An action the server did not apply (refused, or lost to someone else), kept where
    staff can see it."""

    op: PendingOp
    outcome: str  # "rejected" or "conflict"
    reason: str | None
    task_title: str | None
    at: datetime
    message: str | None = None  # what the chef was told: "Already claimed by Maria"


@dataclass(frozen=True, slots=True)
class BoardView:
    tasks: dict[str, ViewTask]
    staff: dict[str, Staff]
    saved_at: datetime | None  # when the confirmed rows were last written by the server

    def staff_name(self, staff_id: str | None) -> str:
        if staff_id is None:
            return ""
        s = self.staff.get(staff_id)
        return s.display_name if s else UNKNOWN_CHEF
