"""PostgREST-compatible `/rest/v1` for the local stack (supabase-protocol.md §3)."""

from caterking_server.rest.routes import RestService

__all__ = ["RestService"]
