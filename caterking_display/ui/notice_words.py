"""Plain words for what the server decided about a chef's action (a conflict is never
silent: docs/sync-rules.md). Pure; the store hands over facts (``Notice``,
``FailedAction``), the words are chosen here."""

from __future__ import annotations

from collections.abc import Callable

from caterking_display.domain.actions import Action
from caterking_display.domain.board import Winner
from caterking_display.domain.task import Status
from caterking_display.domain.text import printable
from caterking_display.ui.action_words import WORDS
from caterking_display.ui.change_words import UNKNOWN_CHEF

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

NameOf = Callable[[str | None], str | None]
"""A staff id's name as the board knows it now (None or "" when it does not)."""


def _holder(winner: Winner, name_of: NameOf) -> str:
    now = name_of(winner.staff_id) if winner.staff_id else None
    if now and now != UNKNOWN_CHEF:
        return now
    return winner.staff_name or f"{UNKNOWN_CHEF} else"


def conflict_words(action: Action, winner: Winner | None, staff_id: str, name_of: NameOf) -> str:
    """Who won, as the chef is told it: "Already claimed by Maria"."""
    if winner is None:
        return "Someone else changed this task first"
    if winner.status is Status.CANCELLED:
        return "Task was cancelled"
    if winner.status is Status.DONE:
        if action is Action.REOPEN:  # pragma: no cover - reopen of a done task applies
            return "Task is already done"
        return f"Already done by {_holder(winner, name_of)}"
    if winner.status is Status.CLAIMED:
        if winner.staff_id == staff_id:
            if action is Action.REOPEN:
                return "Task is not done yet"
            return "Task is already claimed"
        return f"Already claimed by {_holder(winner, name_of)}"
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


def rejected_words(action: Action, title: str | None, reason: str | None) -> str:
    """ "Could not claim Dice onions: that staff member is no longer active"."""
    verb = WORDS[action].verb
    what = f"{verb} {title}" if title else f"{verb} the task"
    return f"Could not {what}: {plain_reason(reason)}"
