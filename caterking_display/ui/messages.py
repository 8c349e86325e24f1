"""Messages the app posts to itself (past-tense facts)."""

from __future__ import annotations

from textual.message import Message

from caterking_display.domain.board import Notice
from caterking_display.domain.sync_status import SyncStatus


class BoardChanged(Message):
    """The store changed; the handler pulls what changed. Content-free and coalesced."""


class NoticeReceived(Message):
    """The store has something the chef must be told (a conflict is never silent)."""

    def __init__(self, notice: Notice) -> None:
        self.notice = notice
        super().__init__()


class SyncStatusChanged(Message):
    """The sync layer has a new connection state for the banner."""

    def __init__(self, status: SyncStatus) -> None:
        self.status = status
        super().__init__()
