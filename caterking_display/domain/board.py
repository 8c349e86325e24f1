"""What the store offers its readers: the board as the chef should see it.

The store (caterking_display.store) produces these values; the UI and the sync layer
consume them. Everything here is immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from caterking_display.domain.actions import Action
from caterking_display.domain.task import Staff, Status, Task

BOARD_HISTORY = timedelta(hours=12)
"""Finished tasks last changed longer ago than this leave the board: a fetch does not
return them, and a board that stays connected forgets them (so it holds what a fresh one
would, however long it runs)."""


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


class NoticeKind(StrEnum):
    CONFLICT = "conflict"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Winner:
    """Where a task stood when the server refused an action as a conflict: the facts
    the chef is told ("Already claimed by Maria"; the UI chooses the words)."""

    status: Status
    staff_id: str | None  # who holds it: claimed_by when claimed, completed_by when done
    staff_name: str | None  # that chef's name as the board knew it then

    @classmethod
    def of(cls, task: Task, staff: Mapping[str, Staff]) -> Winner:
        holder = task.completed_by if task.status is Status.DONE else task.claimed_by
        if task.status not in (Status.CLAIMED, Status.DONE):
            holder = None
        known = staff.get(holder) if holder is not None else None
        return cls(task.status, holder, known.display_name if known is not None else None)


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the chef must be told (a conflict is never silent): facts only."""

    kind: NoticeKind
    task_id: str | None
    at: datetime
    action: Action | None = None
    staff_id: str | None = None  # the chef who acted
    task_title: str | None = None
    reason: str | None = None  # the server's machine word (rejections)
    winner: Winner | None = None  # conflicts: where the task stood; None if unknown


@dataclass(frozen=True, slots=True)
class FailedAction:
    """An action the server did not apply (refused, or lost to someone else), kept where
    staff can see it."""

    op: PendingOp
    outcome: str  # "rejected" or "conflict"
    reason: str | None
    task_title: str | None
    at: datetime
    winner: Winner | None = None  # conflicts: where the task stood
    message: str | None = None
    """The words shown then, kept by store files written before the facts were (v2–v3);
    newer entries have None and the UI words ``winner``."""


@dataclass(frozen=True, slots=True)
class BoardView:
    tasks: dict[str, ViewTask]
    staff: dict[str, Staff]
    saved_at: datetime | None  # when the confirmed rows were last written by the server

    def staff_name(self, staff_id: str | None) -> str | None:
        """The chef's name, or None when the board does not know the id (yet)."""
        s = self.staff.get(staff_id) if staff_id is not None else None
        return s.display_name if s else None
