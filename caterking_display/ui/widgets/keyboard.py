"""An on-screen keyboard for touch-only displays: big keys that type into the focused box.

A Pi on the wall has no keyboard and a terminal has no system keyboard to pop up, so the
setup screen brings its own. Keys never take the focus; the screen inserts their text.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button

ROWS: tuple[str, ...] = ("1234567890", "qwertyuiop", "asdfghjkl@", "zxcvbnm.-_", ":/")


class Key(Button, can_focus=False):
    """One key; ``name`` is what it types, or a command (shift, space, back, done).

    No pressed-look delay: a button ignores taps while it shows being pressed, and a
    double letter ("tt") must not lose its second tap. The typed text is the feedback."""

    def __init__(self, label: str, *, name: str, classes: str) -> None:
        super().__init__(label, name=name, classes=classes)
        self.active_effect_duration = 0.0


class OnScreenKeyboard(Vertical):
    class Typed(Message):
        def __init__(self, text: str) -> None:
            self.text = text  # a character, or "\b" for backspace
            super().__init__()

    class Closed(Message):
        """The Done key."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shift = False

    def compose(self) -> ComposeResult:
        for row in ROWS:
            with Horizontal(classes="kb-row"):
                for ch in row:
                    yield Key(ch, name=ch, classes="kb-key")
                if row == ROWS[-1]:
                    yield Key("⇧ Shift", name="shift", classes="kb-wide")
                    yield Key("Space", name="space", classes="kb-wide")
                    yield Key("⌫", name="back", classes="kb-key")
                    yield Key("Done", name="done", classes="kb-wide")

    def _relabel(self) -> None:
        for key in self.query(".kb-key").results(Key):
            if key.name and len(key.name) == 1:
                key.label = key.name.upper() if self.shift else key.name

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        name = event.button.name or ""
        if name == "shift":
            self.shift = not self.shift
            self._relabel()
        elif name == "space":
            self.post_message(self.Typed(" "))
        elif name == "back":
            self.post_message(self.Typed("\b"))
        elif name == "done":
            self.post_message(self.Closed())
        elif len(name) == 1:
            self.post_message(self.Typed(name.upper() if self.shift else name))
            if self.shift:
                self.shift = False
                self._relabel()
