"""The optimistic local store: confirmed server rows + a durable outbox, SQLite-backed.

No Textual and no network imports (the UI and sync layers build on this).
"""

from caterking_display.store.board_store import STAFF_CHANGED, BoardStore

__all__ = ["STAFF_CHANGED", "BoardStore"]
