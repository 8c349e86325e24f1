"""Undo: what this board just did, and how to take it back (pure logic; no Textual).

Every claim, done, release and recall made on this board can be undone for a few
seconds. Taking it back has two paths, chosen at the moment of the undo:

- the action never left the outbox: it is withdrawn and never sent;
- it was already handed to the server: the undo is the opposite action (release,
  reopen, re-claim, complete again) queued through the outbox with its own op id, in the
  name of the same chef, so the server decides it like any other action.
"""

from __future__ import annotations

from dataclasses import dataclass

from caterking_display.domain.actions import Action
from caterking_display.domain.task import Status, Task

UNDO_SECONDS = 5.0
"""How long an action can be taken back."""
UNDO_SETTLE_SECONDS = 10.0
"""An undo waits at most this long for a send already on its way (the RPC timeout is 8 s)
to end, to know whether it may still be withdrawn."""


@dataclass(frozen=True, slots=True)
class Step:
    """One queued action: what it was, on which task, as whom."""

    action: Action
    task_id: str
    staff_id: str


@dataclass(frozen=True, slots=True)
class Done:
    """One action this board queued, with the task as it was shown just before."""

    step: Step
    op_id: str
    before: Task
    title: str


@dataclass(frozen=True, slots=True)
class UndoSlot:
    """The last thing done on this board (one or more tasks, e.g. a batch claim)."""

    done: tuple[Done, ...]
    expires_at: float  # clock.monotonic()

    @property
    def action(self) -> Action:
        return self.done[0].step.action

    def seconds_left(self, now: float) -> int:
        return max(0, int(self.expires_at - now + 0.999))

    def live(self, now: float) -> bool:
        return now < self.expires_at


def compensation(done: Done) -> list[Step]:
    """The actions that put the task back as it was before ``done`` (server path).

    Always in the name of the chef the original action was recorded for (or, for a
    recall, the chef who had finished it), never someone the board guessed.
    """
    step, before = done.step, done.before
    staff = step.staff_id
    if step.action is Action.CLAIM:
        return [Step(Action.RELEASE, step.task_id, staff)]
    if step.action is Action.RELEASE:
        return [Step(Action.CLAIM, step.task_id, before.claimed_by or staff)]
    if step.action is Action.COMPLETE:
        steps = [Step(Action.REOPEN, step.task_id, staff)]
        if before.status is Status.CLAIMED and before.claimed_by is not None:
            steps.append(Step(Action.CLAIM, step.task_id, before.claimed_by))
        return steps
    if step.action is Action.REOPEN:
        return [Step(Action.COMPLETE, step.task_id, before.completed_by or staff)]
    raise ValueError(f"unknown action {step.action!r}")
