"""A line that stays until someone has read it: what was saved from a damaged board file.

A tap (or Esc on the board) dismisses it; until then it is shown again after a restart.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message

from caterking_display.ui.widgets.announcement import MessageLine


class StoreNotice(MessageLine):
    class Dismissed(Message):
        """The chef tapped the notice away."""

    def render(self) -> Text:
        return Text.assemble(("⚠ ", "bold"), self.message or "", ("  (tap or Esc to close)", ""))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Dismissed())
