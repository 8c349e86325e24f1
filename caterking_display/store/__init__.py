"""The optimistic local store: confirmed server rows + a durable outbox, SQLite-backed.

No Textual and no network imports (the UI and sync layers build on this).
"""

from caterking_display.store.board_store import ESTIMATES_CHANGED, STAFF_CHANGED, BoardStore
from caterking_display.store.salvage import DamageCause, RecoveryLayer, StoreRecovery

__all__ = [
    "ESTIMATES_CHANGED",
    "STAFF_CHANGED",
    "BoardStore",
    "DamageCause",
    "RecoveryLayer",
    "StoreRecovery",
]
