"""Realtime for the kitchen server: Phoenix channels, postgres_changes from logical
replication, broadcast, presence and private channels (docs/kitchen-server.md)."""

from caterking_server.realtime.service import RealtimeService

__all__ = ["RealtimeService"]
