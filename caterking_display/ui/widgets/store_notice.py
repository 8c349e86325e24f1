"""A line that stays until someone has read it: what was saved from a damaged board file.

A tap (or Esc on the board) dismisses it; until then it is shown again after a restart.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget


class StoreNotice(Widget):
    class Dismissed(Message):
        """The chef tapped the notice away."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.message: str | None = None
        self.display = False

    def set_message(self, message: str | None) -> None:
        if message == self.message:
            return
        self.message = message
        self.display = message is not None
        self.refresh(layout=True)

    def render(self) -> Text:
        return Text.assemble(("⚠ ", "bold"), self.message or "", ("  (tap or Esc to close)", ""))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Dismissed())
