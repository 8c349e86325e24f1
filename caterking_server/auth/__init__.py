"""GoTrue-compatible `/auth/v1` of the kitchen server (docs/kitchen-server.md)."""

from caterking_server.auth.routes import AuthService

__all__ = ["AuthService"]
