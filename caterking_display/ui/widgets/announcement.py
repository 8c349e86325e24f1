"""A line for announcements broadcast on the kitchen channel (hidden when there is none)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class Announcement(Widget):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.message: str | None = None
        self.display = False

    def set_message(self, message: str | None) -> None:
        message = message or None
        if message == self.message:
            return
        self.message = message
        self.display = message is not None
        self.refresh(layout=True)

    def render(self) -> Text:
        return Text.assemble(("Announcement: ", "bold"), self.message or "")
