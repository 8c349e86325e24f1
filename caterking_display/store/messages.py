"""Plain words for what the server decided (a conflict is never silent: docs/sync-rules.md)."""

from __future__ import annotations

from collections.abc import Mapping

from caterking_display.domain.actions import Action
from caterking_display.domain.board import UNKNOWN_CHEF
from caterking_display.domain.task import Staff, Status, Task
from caterking_display.domain.text import printable

_VERB = {
    Action.CLAIM: "claim",
    Action.COMPLETE: "complete",
    Action.RELEASE: "release",
    Action.REOPEN: "reopen",
}

# Machine words the RPCs return as `reason`, in words a chef understands.
_REASONS = {
    "unknown_task": "the task no longer exists",
    "not_found": "the task no longer exists",
    "task_not_found": "the task no longer exists",
    "unknown_staff": "that staff member is not known in this kitchen",
    "staff_not_found": "that staff member is not known in this kitchen",
    "inactive_staff": "that staff member is no longer active",
    "staff_inactive": "that staff member is no longer active",
    "wrong_kitchen": "that staff member belongs to another kitchen",
    "staff_other_kitchen": "that staff member belongs to another kitchen",
    "other_kitchen": "the task belongs to another kitchen",
    "forbidden": "this display is not allowed to change that task",
    "other_tenant": "this display is not allowed to change that task",
    "not_allowed": "this display is not allowed to change that task",
    "no_tenant": "this display's account is not linked to a kitchen",
    "missing_argument": "the action was incomplete (no task, chef or id)",
    "op_id_reused": "the action's id was already used for another task",
}


def staff_name(staff: Mapping[str, Staff], staff_id: str | None) -> str:
    if staff_id is None:
        return f"{UNKNOWN_CHEF} else"
    s = staff.get(staff_id)
    return s.display_name if s is not None else f"{UNKNOWN_CHEF} else"


def conflict_message(
    action: Action, task: Task | None, staff: Mapping[str, Staff], staff_id: str
) -> str:
    """Who won, as the toast says it: "Already claimed by Maria"."""
    if task is None:
        return "Someone else changed this task first"
    if task.status is Status.CANCELLED:
        return "Task was cancelled"
    if task.status is Status.DONE:
        if action is Action.REOPEN:  # pragma: no cover - reopen of a done task applies
            return "Task is already done"
        return f"Already done by {staff_name(staff, task.completed_by)}"
    if task.status is Status.CLAIMED:
        if task.claimed_by == staff_id:
            if action is Action.REOPEN:
                return "Task is not done yet"
            return "Task is already claimed"
        return f"Already claimed by {staff_name(staff, task.claimed_by)}"
    # pending
    if action is Action.RELEASE:
        return "Task is no longer claimed"
    if action is Action.REOPEN:
        return "Task was already reopened"
    return "Someone else changed this task first"


def plain_reason(reason: str | None) -> str:
    if not reason:
        return "the server refused it"
    word = printable(reason).strip()[:80]
    return _REASONS.get(word.lower(), word.replace("_", " "))


def rejected_message(action: Action, title: str | None, reason: str | None) -> str:
    """ "Could not claim Dice onions: that staff member is no longer active"."""
    what = f"{_VERB[action]} {title}" if title else f"{_VERB[action]} the task"
    return f"Could not {what}: {plain_reason(reason)}"
