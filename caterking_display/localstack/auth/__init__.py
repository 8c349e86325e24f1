"""GoTrue-compatible `/auth/v1` for the local stack (supabase-protocol.md §4)."""

from caterking_display.localstack.auth.routes import AuthService

__all__ = ["AuthService"]
