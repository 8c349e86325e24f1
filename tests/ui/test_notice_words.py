"""The words a chef reads for what the server decided (the store hands over facts)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from caterking_display.domain.actions import Action
from caterking_display.domain.board import FailedAction, PendingOp, Winner
from caterking_display.domain.task import Status
from caterking_display.ui.notice_words import conflict_words, plain_reason, rejected_words
from caterking_display.ui.screens.failed_actions import failed_table

NAMES = {"m": "Maria", "b": "Ben"}
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def name_of(staff_id: str | None) -> str | None:
    return NAMES.get(staff_id or "")


@pytest.mark.parametrize(
    ("action", "winner", "words"),
    [
        (Action.CLAIM, Winner(Status.CLAIMED, "m", "Maria"), "Already claimed by Maria"),
        (Action.COMPLETE, Winner(Status.DONE, "b", "Ben"), "Already done by Ben"),
        (Action.CLAIM, Winner(Status.CANCELLED, None, None), "Task was cancelled"),
        (Action.CLAIM, Winner(Status.CLAIMED, "me", None), "Task is already claimed"),
        (Action.REOPEN, Winner(Status.CLAIMED, "me", None), "Task is not done yet"),
        (Action.RELEASE, Winner(Status.PENDING, None, None), "Task is no longer claimed"),
        (Action.REOPEN, Winner(Status.PENDING, None, None), "Task was already reopened"),
        (Action.CLAIM, None, "Someone else changed this task first"),
        # A chef the board no longer knows: the name as known when it happened…
        (Action.CLAIM, Winner(Status.CLAIMED, "gone", "Sam"), "Already claimed by Sam"),
        # …or, never known, plain words.
        (Action.CLAIM, Winner(Status.CLAIMED, "gone", None), "Already claimed by someone else"),
    ],
)
def test_conflict_words(action: Action, winner: Winner | None, words: str) -> None:
    assert conflict_words(action, winner, "me", name_of) == words


def test_a_renamed_chef_is_named_as_the_board_knows_them_now() -> None:
    assert conflict_words(Action.CLAIM, Winner(Status.CLAIMED, "m", "Maria R."), "me", name_of) == (
        "Already claimed by Maria"
    )


def test_rejections_say_why_in_plain_words() -> None:
    assert rejected_words(Action.CLAIM, "Dice onions", "inactive_staff") == (
        "Could not claim Dice onions: that staff member is no longer active"
    )
    assert rejected_words(Action.COMPLETE, None, None) == (
        "Could not complete the task: the server refused it"
    )
    # An unknown machine word is shown readably, and never as terminal control codes.
    assert plain_reason("brand_new\x1b[2Jreason") == "brand newreason"


def test_the_not_applied_list_words_facts_and_keeps_old_entries_words() -> None:
    op = PendingOp("op", Action.CLAIM, "t", "me", "wall", T0)
    new = FailedAction(op, "conflict", "conflict", "Roast", T0, Winner(Status.CLAIMED, "m", None))
    old = FailedAction(op, "conflict", "conflict", "Roast", T0, None, "Already claimed by Jo")
    refused = FailedAction(op, "rejected", "inactive_staff", "Roast", T0)
    table = failed_table([new, old, refused], lambda i: name_of(i) or "someone", UTC)
    assert not isinstance(table, str)
    why = [str(c) for c in table.columns[4].cells]
    assert why == [
        "Already claimed by Maria",
        "Already claimed by Jo",
        "that staff member is no longer active",
    ]
