"""One-line messages above the board, hidden while there is none.

`Announcement`: what Admin broadcasts on the kitchen channel. `StoreNotice` (in its own
module) is the same kind of line for what a damaged board file lost or kept.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from caterking_display.domain.text import printable


class MessageLine(Widget):
    """A line that shows ``message`` and is hidden when there is none."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.message: str | None = None
        self.display = False

    def set_message(self, message: str | None) -> None:
        message = printable(message) if message else None
        if message == self.message:
            return
        self.message = message
        self.display = message is not None
        self.refresh(layout=True)


class Announcement(MessageLine):
    def render(self) -> Text:
        return Text.assemble(("Announcement: ", "bold"), self.message or "")
