"""Messages the app posts to itself (past-tense facts)."""

from __future__ import annotations

from textual.message import Message

from caterking_display.domain.board import Notice


class BoardChanged(Message):
    """The store changed; the handler pulls what changed. Content-free and coalesced."""


class NoticeReceived(Message):
    """The store has something the chef must be told (a conflict is never silent)."""

    def __init__(self, notice: Notice) -> None:
        self.notice = notice
        super().__init__()
