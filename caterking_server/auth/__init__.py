"""GoTrue-compatible `/auth/v1` for the local stack (supabase-protocol.md §4)."""

from caterking_server.auth.routes import AuthService

__all__ = ["AuthService"]
