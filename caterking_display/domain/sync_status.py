"""Connection state facts that the banner shows (the UI chooses the words)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class ErrorKind(StrEnum):
    """What kind of trouble the sync layer last had (the UI chooses the words)."""

    NETWORK = "network"  # the server could not be reached, or did not answer in time
    SERVER = "server"  # the server answered with an error
    SIGN_IN = "sign_in"  # the device's credentials were refused (``error_code`` says how)
    NO_KITCHEN = "no_kitchen"  # the device account names no kitchen
    LINK = "link"  # the realtime channel was closed or failed
    INTERNAL = "internal"  # a bug in this app (logged)


class Feed(StrEnum):
    """How changes reach the board over Realtime.

    ``BROADCAST``: the database sends each change of the kitchen to its private channel
    (Supabase's "broadcast from the database"; access is checked once, at join).
    ``POSTGRES_CHANGES``: the Realtime server reads the database's change stream and
    checks every change for every subscriber (works on any Supabase project).
    ``AUTO`` (configuration only): broadcast when the server proves it delivers them at
    join, else postgres_changes."""

    AUTO = "auto"
    BROADCAST = "broadcast"
    POSTGRES_CHANGES = "postgres_changes"


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    AUTH_FAILED = "auth_failed"


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """A snapshot of the sync layer's state; the UI renders it and nothing else."""

    state: ConnectionState = ConnectionState.CONNECTING
    since: datetime | None = None  # when `state` was entered
    attempt: int = 0  # reconnect attempt number (0 when live)
    next_retry_at: datetime | None = None
    pending_count: int = 0
    oldest_pending_at: datetime | None = None
    last_sync_at: datetime | None = None  # last successful resync or confirmed op
    last_message_at: datetime | None = None  # last message of any kind from the server
    last_error: str | None = None  # the technical detail, for logs and diagnostics
    error_kind: ErrorKind | None = None
    error_code: str | None = None  # the server's machine word (e.g. "invalid_credentials")
    clock_skew: timedelta | None = None  # server minus device
    devices_online: int = 0
    board_saved_at: datetime | None = None  # when the shown board was last confirmed
    announcement: str | None = None
    kitchen_name: str | None = None
    feed: Feed | None = None  # how changes arrive on the current (or last) link

    @property
    def skew_warning(self) -> bool:
        return self.clock_skew is not None and abs(self.clock_skew) > timedelta(seconds=30)
