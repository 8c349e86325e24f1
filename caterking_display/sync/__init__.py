"""Sync layer: connection supervisor, resync, outbox replay, token refresh.

Imports no Textual and no Supabase client (only ``caterking_display.backend.types``).
"""

from caterking_display.sync.engine import SyncEngine
from caterking_display.sync.settings import SyncSettings
from caterking_display.sync.status import StatusTracker

__all__ = ["StatusTracker", "SyncEngine", "SyncSettings"]
