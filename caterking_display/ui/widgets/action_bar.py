"""The bottom bar: a tap target for every board action that is not on a card.

Release, recall, the station filter, the not-applied list and help, plus Undo in a fixed
place (greyed when there is nothing to undo), so a touchscreen alone can do everything a
bump bar can. Each button shows its key, from the action registry and the keymap. The
buttons never take focus: keys stay with the board.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button

from caterking_display.ui.actions import BY_ID, keys_for

BAR_ACTIONS: tuple[str, ...] = (
    "undo",
    "release",
    "recall",
    "station",
    "all_day",
    "failed",
    "help",
)


class BarButton(Button, can_focus=False):
    """A bottom-bar button; ``name`` is the action registry id it runs."""


class ActionBar(Horizontal):
    class Chosen(Message):
        """A bar button was tapped: run the registry action ``action_id``."""

        def __init__(self, action_id: str) -> None:
            self.action_id = action_id
            super().__init__()

    def __init__(
        self,
        keymap: Mapping[str, str],
        actions: Sequence[str] = BAR_ACTIONS,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.keymap = keymap
        self.actions = tuple(actions)
        self._undo_left: int | None = None

    def label(self, action_id: str, extra: str = "") -> str:
        """ "f Not applied": the key, then the word; only the word where the key won't fit."""
        key = keys_for(action_id, self.keymap).split(", ")[0]
        short = BY_ID[action_id].short
        n = max(1, len(self.actions))
        room = (self.size.width - (n - 1)) // n if self.size.width else 99  # 1-cell gaps
        text = f"{key} {short}" if key else short
        if len(f"{text} {extra}".rstrip()) > room:
            text = short
        return f"{text} {extra}".rstrip()

    def on_resize(self) -> None:
        for button in self.query(BarButton):
            if button.name and button.name != "undo":
                button.label = self.label(button.name)
        self.set_undo(self._undo_left)

    def compose(self) -> ComposeResult:
        for action_id in self.actions:
            button = BarButton(self.label(action_id), name=action_id, id=f"bar-{action_id}")
            if action_id == "undo":
                button.disabled = True
            yield button

    def set_undo(self, seconds_left: int | None) -> None:
        """Light the Undo button with its countdown, or grey it out (None)."""
        self._undo_left = seconds_left
        # Not there before compose, nor while the app shuts down (a last clock tick).
        button = next(iter(self.query("#bar-undo").results(BarButton)), None)
        if button is None:
            return
        label = self.label("undo", f"{seconds_left}s" if seconds_left else "")
        disabled = seconds_left is None
        if str(button.label) != label:
            button.label = label
        if button.disabled != disabled:
            button.disabled = disabled

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.name:
            self.post_message(self.Chosen(event.button.name))
