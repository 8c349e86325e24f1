"""The connection state machine and the facts a banner needs, as pure logic.

The supervisor reports what happened (an attempt started, failed, the channel went
live, the link was lost, sign-in was refused); this turns those facts into a
``SyncStatus`` using the injected clock, and tells listeners when it changes.

States: ``connecting`` (never been live yet) → ``live`` (joined and 'Subscribed to
PostgreSQL' seen, board fetched) → ``reconnecting`` (link lost, retrying) →
``offline`` (after N failed attempts or ``offline_after_seconds`` without a link) →
``live`` again. ``auth_failed`` whenever the server refuses the device's credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from caterking_display.domain.clock import Clock
from caterking_display.domain.sync_status import ConnectionState, ErrorKind, Feed, SyncStatus

log = logging.getLogger(__name__)

StatusListener = Callable[[SyncStatus], None]

_MESSAGE_NOTIFY_EVERY = 1.0  # seconds: last_message_at alone is not worth more listener calls


class StatusTracker:
    def __init__(
        self,
        clock: Clock,
        *,
        offline_after_attempts: int = 4,
        offline_after_seconds: float = 40.0,
    ) -> None:
        self._clock = clock
        self._offline_attempts = offline_after_attempts
        self._offline_seconds = offline_after_seconds
        now = clock.now()
        self._status = SyncStatus(state=ConnectionState.CONNECTING, since=now)
        self._ever_live = False
        self._failures = 0
        self._down_since_mono: float = clock.monotonic()
        self._listeners: list[StatusListener] = []
        self._history: list[ConnectionState] = [ConnectionState.CONNECTING]
        self._last_msg_notify = -1e9

    # --- reading --------------------------------------------------------------------

    @property
    def status(self) -> SyncStatus:
        return self._status

    @property
    def history(self) -> list[ConnectionState]:
        """Every state entered, in order (tests, diagnostics)."""
        return list(self._history)

    def on_status(self, listener: StatusListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # --- facts ----------------------------------------------------------------------

    def attempt_started(self, attempt: int) -> None:
        """A connection attempt (1-based since the last time live) is under way."""
        if self._status.state is ConnectionState.OFFLINE:
            state = ConnectionState.OFFLINE  # stays "offline since …" until live again
        elif self._ever_live:
            state = ConnectionState.RECONNECTING
        else:
            state = ConnectionState.CONNECTING
        self._update(state, attempt=attempt, next_retry_at=None)

    def attempt_failed(
        self,
        attempt: int,
        error: str,
        retry_in: float,
        kind: ErrorKind = ErrorKind.NETWORK,
    ) -> None:
        """An attempt failed; the next one is in ``retry_in`` seconds."""
        self._failures += 1
        now = self._clock.now()
        if self._should_be_offline():
            state = ConnectionState.OFFLINE
        elif self._ever_live:
            state = ConnectionState.RECONNECTING
        else:
            state = ConnectionState.CONNECTING
        self._update(
            state,
            attempt=attempt,
            next_retry_at=now + timedelta(seconds=retry_in),
            last_error=error,
            error_kind=kind,
            error_code=None,
        )

    def live(self, feed: Feed | None = None) -> None:
        self._ever_live = True
        self._failures = 0
        now = self._clock.now()
        self._update(
            ConnectionState.LIVE, attempt=0, next_retry_at=None, last_sync_at=now, feed=feed
        )

    def link_lost(self, error: str, kind: ErrorKind = ErrorKind.LINK) -> None:
        self._down_since_mono = self._clock.monotonic()
        self._failures = 0
        state = ConnectionState.RECONNECTING if self._ever_live else ConnectionState.CONNECTING
        self._update(
            state, attempt=1, next_retry_at=None, last_error=error, error_kind=kind, error_code=None
        )

    def auth_failed(
        self,
        detail: str,
        retry_in: float,
        *,
        kind: ErrorKind = ErrorKind.SIGN_IN,
        code: str | None = None,
    ) -> None:
        """The server refused the device's credentials (``code``: its machine word), or
        the account cannot be used (``kind`` NO_KITCHEN)."""
        now = self._clock.now()
        self._update(
            ConnectionState.AUTH_FAILED,
            last_error=detail,
            error_kind=kind,
            error_code=code,
            next_retry_at=now + timedelta(seconds=retry_in),
        )

    def tick(self) -> None:
        """Re-evaluate time-based rules (offline after N seconds without a link)."""
        st = self._status.state
        if st in (ConnectionState.CONNECTING, ConnectionState.RECONNECTING) and (
            self._should_be_offline()
        ):
            self._update(ConnectionState.OFFLINE)

    def synced(self) -> None:
        self._update(None, last_sync_at=self._clock.now())

    def message(self) -> None:
        now_mono = self._clock.monotonic()
        self._status = replace(self._status, last_message_at=self._clock.now())
        if now_mono - self._last_msg_notify >= _MESSAGE_NOTIFY_EVERY:
            self._last_msg_notify = now_mono
            self._notify()

    def pending(self, count: int, oldest: datetime | None) -> None:
        self._update(None, pending_count=count, oldest_pending_at=oldest)

    def skew(self, skew: timedelta | None) -> None:
        if skew is None:
            return
        old = self._status.clock_skew
        # Date headers have 1 s resolution: only report changes that matter.
        if old is not None and abs(old - skew) < timedelta(seconds=1):
            return
        self._update(None, clock_skew=skew)

    def devices(self, n: int) -> None:
        self._update(None, devices_online=n)

    def announcement(self, text: str | None) -> None:
        self._update(None, announcement=text)

    def board_saved(self, at: datetime | None) -> None:
        self._update(None, board_saved_at=at)

    def kitchen(self, name: str | None) -> None:
        """The kitchen's name, once known (shown in the board's header)."""
        if name is not None:
            self._update(None, kitchen_name=name)

    # --- internals ------------------------------------------------------------------

    def _should_be_offline(self) -> bool:
        if self._failures >= self._offline_attempts:
            return True
        return self._clock.monotonic() - self._down_since_mono >= self._offline_seconds

    def _update(self, state: ConnectionState | None, **facts: object) -> None:
        old = self._status
        new = replace(old, **facts)  # type: ignore[arg-type]
        if state is not None and state is not old.state:
            new = replace(new, state=state, since=self._clock.now())
            self._history.append(state)
            log.info("sync: %s -> %s (%s)", old.state.value, state.value, new.last_error or "")
        if new != old:
            self._status = new
            self._notify()

    def _notify(self) -> None:
        status = self._status
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:
                log.exception("sync: status listener %r failed", listener)
