"""Tunables of the sync engine (the CLI builds one from config; tests shorten them)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from caterking_display.domain.board import BOARD_HISTORY
from caterking_display.domain.sync_status import Feed


@dataclass(frozen=True)
class SyncSettings:
    email: str
    password: str
    kitchen_id: str | None = None
    """The kitchen to show; None means the device account's ``app_metadata.kitchen_id``."""
    device: str = "display"
    """This device's name: presence key (the outbox uses the store's device name)."""
    heartbeat_interval: float = 5.0
    """Seconds between heartbeats; two missed replies end the link (so a silently dropping
    link is found within about 2 × interval + 1 s)."""
    join_timeout: float = 10.0
    """Connect + join must answer within this."""
    live_timeout: float = 10.0
    """After the join, 'Subscribed to PostgreSQL' must arrive within this."""
    feed: Feed = Feed.AUTO
    """How changes arrive: database broadcasts when the server proves it delivers them,
    else postgres_changes (auto), or one of them forced."""
    probe_timeout: float = 3.0
    """A broadcast probe must come back within this after the database accepted it."""
    rpc_timeout: float = 8.0
    fetch_timeout: float = 10.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    offline_after_attempts: int = 10
    offline_after_seconds: float = 30.0
    """Reconnecting (with attempt and next try) for about half a minute, then Offline:
    a blip stays a blip, a real outage is called one (Toast says so after 40 s)."""
    auth_retry_seconds: float = 60.0
    """After a refused sign-in (bad password, disabled account), retry this often."""
    refresh_fraction: float = 0.8
    """Refresh the access token at this fraction of its lifetime."""
    max_server_errors: int = 5
    """An op the database keeps failing with an error (HTTP 500 with PostgREST's body)
    this many times, over at least ``poison_after_seconds``, goes to the failed list, so
    it cannot block the queue forever. Gateway errors and outages never count."""
    poison_after_seconds: float = 600.0
    board_history: timedelta = BOARD_HISTORY
    """Finished tasks last changed longer ago leave the store (as a fetch leaves them out)."""
    forget_every: float = 300.0
    """Seconds between two such clean-ups while the board runs."""
    rng: random.Random = field(default_factory=random.Random)
    """Jitter source (inject a seeded one in tests)."""

    def __post_init__(self) -> None:
        if self.heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval: must be positive")
        if self.backoff_base <= 0 or self.backoff_cap < self.backoff_base:
            raise ValueError("backoff: need 0 < base <= cap")
        if not 0 < self.refresh_fraction < 1:
            raise ValueError("refresh_fraction: must be between 0 and 1")
