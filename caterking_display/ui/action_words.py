"""The words for each chef action, in one table (the UI's only one)."""

from __future__ import annotations

from dataclasses import dataclass

from caterking_display.domain.actions import Action


@dataclass(frozen=True, slots=True)
class ActionWords:
    verb: str  # "couldn't claim Dice onions"
    noun: str  # "Undone: the claim of Dice onions"
    label: str  # the button and the not-applied list: "Claim"


WORDS: dict[Action, ActionWords] = {
    Action.CLAIM: ActionWords("claim", "claim", "Claim"),
    Action.COMPLETE: ActionWords("complete", "done", "Done"),
    Action.RELEASE: ActionWords("release", "release", "Release"),
    Action.REOPEN: ActionWords("reopen", "recall", "Recall"),
}
