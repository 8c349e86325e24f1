"""Plain values and errors the backend adapter hands to the sync layer.

Nothing here imports a Supabase client, so ``caterking_display.sync`` can depend on it
while staying free of network libraries (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from caterking_display.domain.actions import Action, Outcome
from caterking_display.domain.sync_status import Feed


class BackendError(Exception):
    """Base of every error the adapter raises."""


class TransportError(BackendError):
    """No usable answer: network error, timeout, 5xx, unparsable reply. Retry later.

    ``answered`` is True when the server did answer, with an error (5xx, bad reply).
    ``sent`` is False only when the request certainly never left this device (no
    connection could be made), so the server cannot have acted on it."""

    def __init__(self, message: str, *, answered: bool = False, sent: bool = True) -> None:
        super().__init__(message)
        self.answered = answered
        self.sent = sent


class AuthExpired(BackendError):
    """The access token was refused (401, PGRST301/PGRST303): refresh and retry."""


class AuthRejected(BackendError):
    """Sign-in or refresh refused for good (bad credentials, banned, no such session).

    ``code`` is the server's machine word (``invalid_credentials``, ``user_banned``…);
    ``str(exc)`` is a plain sentence for the banner.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class FeedUnavailable(BackendError):
    """The server cannot prove it delivers database broadcasts (no ``feed_probe``
    function: a schema before migration 0007)."""


class ServerRefused(BackendError):
    """The server answered a request with a permanent error (4xx other than 401)."""

    def __init__(self, message: str, status: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Session:
    access_token: str
    refresh_token: str
    expires_at: float  # unix seconds
    user_id: str
    app_metadata: dict[str, Any] = field(default_factory=dict)
    expires_in: float = 3600.0  # lifetime in seconds as issued
    email: str | None = None


@dataclass(frozen=True, slots=True)
class RpcResult:
    outcome: Outcome
    task_row: dict[str, Any] | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class BoardSnapshot:
    tasks: list[dict[str, Any]]
    staff: list[dict[str, Any]]
    kitchen: dict[str, Any] | None
    server_date: datetime | None
    estimates: list[dict[str, Any]] | None = None  # None: the server has none to give


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change of a row, as plain data (from postgres_changes or a database
    broadcast: the same facts either way)."""

    table: str
    type: str  # INSERT | UPDATE | DELETE
    record: dict[str, Any] | None
    old_record: dict[str, Any] | None
    commit_timestamp: str | None
    errors: list[str] | None = None
    partial: bool = False
    """The row was too big to send whole (a database broadcast over Realtime's size
    limit carries only its key and version): fetch it instead of applying it."""


@dataclass(frozen=True, slots=True)
class SystemEvent:
    extension: str
    status: str
    message: str


@dataclass(frozen=True, slots=True)
class LinkHandlers:
    """Callbacks the realtime link calls (each wrapped: an exception is logged, not fatal)."""

    on_change: Callable[[ChangeEvent], None]
    on_presence: Callable[[int], None]
    on_broadcast: Callable[[str, dict[str, Any]], None]
    on_system: Callable[[SystemEvent], None]
    on_close: Callable[[str], None]
    on_message: Callable[[], None] | None = None  # any frame from the server


class Link(Protocol):
    """One socket + one joined channel. Built fresh for every connection attempt."""

    @property
    def closed(self) -> bool: ...

    def heartbeat_age(self) -> float:
        """Seconds since the last heartbeat reply (or since connect)."""
        ...

    async def set_auth(self, access_token: str) -> None: ...

    async def close(self) -> None: ...


class Backend(Protocol):
    """What the sync layer needs from Supabase (``SupabaseBackend`` implements it)."""

    @property
    def clock_skew(self) -> timedelta | None:
        """Server minus device time, from the last HTTP ``Date`` header seen."""
        ...

    def set_session(self, session: Session | None) -> None: ...

    async def sign_in(self, email: str, password: str) -> Session: ...

    async def refresh(self, refresh_token: str) -> Session: ...

    async def call_action(
        self,
        action: Action,
        task_id: str,
        staff_id: str,
        op_id: str,
        device: str,
        timeout: float,  # noqa: ASYNC109
        acted_at: datetime | None = None,
    ) -> RpcResult:
        """Run one task action RPC. ``acted_at`` (aware) is when the chef acted, sent as
        ``p_acted_at``; a server whose schema lacks that argument gets the call without
        it (the server then stamps the arrival time)."""
        ...

    async def fetch_board(self, kitchen_id: str, timeout: float = 10.0) -> BoardSnapshot: ...  # noqa: ASYNC109

    async def connect_channel(
        self,
        kitchen_id: str,
        access_token: str,
        device: str,
        handlers: LinkHandlers,
        *,
        heartbeat_interval: float,
        timeout: float,  # noqa: ASYNC109
        tenant_id: str | None = None,
        feed: Feed = Feed.POSTGRES_CHANGES,
    ) -> Link:
        """Open a socket and join the kitchen's private channel. With
        ``Feed.POSTGRES_CHANGES`` the join subscribes to the tables' changes (the
        server then says "Subscribed to PostgreSQL"); with ``Feed.BROADCAST`` it listens
        for the database's broadcasts only, and each arrives as a ``ChangeEvent``."""
        ...

    async def feed_probe(self, nonce: str, timeout: float) -> None:  # noqa: ASYNC109
        """Ask the database to broadcast ``caterking_probe`` with ``{"nonce": nonce}``
        to this display's kitchen channel. Raises FeedUnavailable when the schema has
        no such function."""
        ...

    async def aclose(self) -> None: ...
