"""Task actions (the four RPCs) and their optimistic local effect.

The server decides; this only predicts what the server will most likely do, so the
board can show a chef's action at once. The prediction mirrors docs/database-contract.md and the
time rules of docs/database-contract.md.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from caterking_display.domain.task import Status, Task


class Action(StrEnum):
    CLAIM = "claim"
    COMPLETE = "complete"
    RELEASE = "release"
    REOPEN = "reopen"

    @property
    def rpc(self) -> str:
        return f"{self.value}_task"


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REJECTED = "rejected"


def acted_time(task: Task, at: datetime) -> datetime:
    """When the server will say the chef acted, for an action pressed at ``at``.

    The server's rule (docs/database-contract.md): the caller's time, but never before
    the task's previous change — its creation, claim or completion time as the row
    holds them, or the latest applied action in the server's ledger. The ledger is not
    on the board, so a release or reopen by someone else is the one bound this cannot
    see. The server's other clamps (not after its now, nothing older than 24 h) need
    its clock; ``at`` comes from a clock kept on server time, so they rarely apply.
    """
    bounds = [t for t in (task.created_at, task.claimed_at, task.completed_at) if t is not None]
    return max([at, *bounds])


def predict(task: Task, action: Action, staff_id: str, device: str, now: datetime) -> Task | None:
    """The task as it would be if the server applied the action; None if it would not.

    ``now`` is when the chef pressed (the op's time); times are stamped as the server
    will stamp them (``acted_time``), so the card does not move when it confirms.
    """
    s = task.status
    now = acted_time(task, now)
    if action is Action.CLAIM:
        if s is Status.PENDING:
            return task.evolve(
                status=Status.CLAIMED, claimed_by=staff_id, claimed_at=now, claimed_device=device
            )
        return None
    if action is Action.COMPLETE:
        if s is Status.PENDING or (s is Status.CLAIMED and task.claimed_by == staff_id):
            return task.evolve(
                status=Status.DONE,
                completed_by=staff_id,
                completed_at=now,
                claimed_by=task.claimed_by or staff_id,
                claimed_at=task.claimed_at or now,
            )
        return None
    if action is Action.RELEASE:
        if s is Status.CLAIMED and task.claimed_by == staff_id:
            return task.evolve(
                status=Status.PENDING, claimed_by=None, claimed_at=None, claimed_device=None
            )
        return None
    if action is Action.REOPEN:
        if s is Status.DONE:
            return task.evolve(
                status=Status.PENDING,
                claimed_by=None,
                claimed_at=None,
                claimed_device=None,
                completed_by=None,
                completed_at=None,
            )
        return None
    raise ValueError(f"unknown action {action!r}")


def next_action(task: Task) -> Action | None:
    """The card's 'next step' (Enter): claim a pending card, complete a claimed one."""
    if task.status is Status.PENDING:
        return Action.CLAIM
    if task.status is Status.CLAIMED:
        return Action.COMPLETE
    return None
