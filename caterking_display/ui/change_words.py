"""Plain words for what another device just did to a task (pure; no Textual).

Used when the selected card leaves its column because of someone else ("Dice onions —
claimed by Sam on Pass display"), when a guarded key press is ignored, and when an open
"who?" picker closes because the task was taken meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable

from caterking_display.domain.task import Status, Task

__all__ = ["UNKNOWN_CHEF", "change_note", "shown_state", "what_changed"]

UNKNOWN_CHEF = "someone"
"""The name shown for a staff id the board does not know (yet): one word everywhere."""


def _on(device: str | None) -> str:
    return f" on {device}" if device else ""


def what_changed(before: Task | None, after: Task | None, name: Callable[[str | None], str]) -> str:
    """What happened to the task, without its title: "claimed by Sam on Pass display"."""
    if after is None or after.status is Status.CANCELLED:
        return "cancelled" if after is not None else "removed from the board"
    if after.status is Status.CLAIMED:
        who = name(after.claimed_by) or UNKNOWN_CHEF
        again = before is not None and before.status is Status.CLAIMED
        return f"{'now claimed' if again else 'claimed'} by {who}{_on(after.claimed_device)}"
    if after.status is Status.DONE:
        return f"done by {name(after.completed_by) or UNKNOWN_CHEF}"
    # pending
    if before is not None and before.status is Status.DONE:
        return "put back in To do"
    if before is not None and before.status is Status.CLAIMED:
        return "released"
    return "changed"


def change_note(before: Task | None, after: Task | None, name: Callable[[str | None], str]) -> str:
    """The title and what happened: "Dice onions — claimed by Sam on Pass display"."""
    task = after or before
    title = task.title if task is not None else "A task"
    return f"{title} — {what_changed(before, after, name)}"


def shown_state(task: Task | None) -> tuple[Status | None, str | None]:
    """What a chef sees of a task's state: its status and who holds it."""
    if task is None:
        return (None, None)
    return (task.status, task.claimed_by if task.status is not Status.PENDING else None)
