"""Realtime for the local stack: Phoenix channels, postgres_changes from logical
replication, broadcast, presence and private channels (supabase-protocol.md §1)."""

from caterking_server.realtime.service import RealtimeService

__all__ = ["RealtimeService"]
