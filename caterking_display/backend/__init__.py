"""Supabase client adapter: the only layer that imports supabase/realtime/httpx.

``caterking_display.backend.types`` holds the plain values and errors (safe to import
anywhere); ``SupabaseBackend`` (loaded lazily) talks to the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from caterking_display.backend.types import (
    AuthExpired,
    AuthRejected,
    Backend,
    BackendError,
    BoardSnapshot,
    ChangeEvent,
    FeedUnavailable,
    Link,
    LinkHandlers,
    RpcResult,
    ServerRefused,
    Session,
    SystemEvent,
    TransportError,
)

if TYPE_CHECKING:
    from caterking_display.backend.supabase_backend import SupabaseBackend

__all__ = [
    "AuthExpired",
    "AuthRejected",
    "Backend",
    "BackendError",
    "BoardSnapshot",
    "ChangeEvent",
    "FeedUnavailable",
    "Link",
    "LinkHandlers",
    "RpcResult",
    "ServerRefused",
    "Session",
    "SupabaseBackend",
    "SystemEvent",
    "TransportError",
]


def __getattr__(name: str) -> Any:
    if name == "SupabaseBackend":
        from caterking_display.backend.supabase_backend import SupabaseBackend

        return SupabaseBackend
    raise AttributeError(name)
