"""The connection supervisor: one realtime link at a time, rebuilt whenever it fails.

Loop: make sure we are signed in → open a socket and join ``kitchen:<id>`` (buffering
events) → prove the change feed works → fetch the board (resync) → ``live`` → watch the
link (server close, channel error, two missed heartbeat replies) → close it, back off
(capped exponential, full jitter) and start again. Forever, until cancelled.

The change feed is proven per link. postgres_changes: the server says 'Subscribed to
PostgreSQL'. Broadcast from the database: the board asks the database to broadcast a
probe with a fresh nonce to its kitchen and waits for it on this link. With the feed
set to auto, a failed probe (an older schema, a server that does not deliver them)
falls back to postgres_changes on a new link in the same attempt, and broadcasts are
tried again on a reconnect ten minutes later. Either way the resync after the join
catches whatever changed before it, so switching never misses a change.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

from caterking_display.backend.types import (
    AuthExpired,
    Backend,
    BackendError,
    ChangeEvent,
    FeedUnavailable,
    Link,
    LinkHandlers,
    ServerRefused,
    SystemEvent,
    TransportError,
)
from caterking_display.domain.clock import Clock
from caterking_display.domain.sync_status import ErrorKind, Feed
from caterking_display.sync.auth import AuthFailed, DeviceAuth
from caterking_display.sync.backoff import Backoff
from caterking_display.sync.resync import Resync
from caterking_display.sync.settings import SyncSettings
from caterking_display.sync.status import StatusTracker

log = logging.getLogger(__name__)

PG_READY = "Subscribed to PostgreSQL"
PROBE_EVENT = "caterking_probe"
BROADCAST_RETRY_SECONDS = 600.0
"""After the broadcast probe failed (auto feed), use postgres_changes this long before
trying broadcasts again on a reconnect."""


class LinkDown(Exception):
    """The link failed; the message says how."""


class Supervisor:
    def __init__(
        self,
        backend: Backend,
        clock: Clock,
        settings: SyncSettings,
        auth: DeviceAuth,
        resync: Resync,
        status: StatusTracker,
        *,
        on_live: Callable[[], None],
        on_broadcast: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self._backend = backend
        self._clock = clock
        self._s = settings
        self._auth = auth
        self._resync = resync
        self._status = status
        self._on_live = on_live
        self._on_broadcast = on_broadcast
        self._backoff = Backoff(settings.backoff_base, settings.backoff_cap, settings.rng)
        self.link: Link | None = None
        self.kitchen_id: str | None = settings.kitchen_id
        self.links_opened = 0  # diagnostics / hygiene tests
        self._force = asyncio.Event()
        self._reachable = asyncio.Event()
        self._broadcast_retry_at = float("-inf")

    def force_reconnect(self) -> None:
        """Drop the current link and build a new one (tests, diagnostics)."""
        self._force.set()

    def server_reachable(self) -> None:
        """A request to the server just succeeded (an RPC answered, a sign-in or refresh):
        if waiting out a backoff, stop waiting and reconnect now."""
        self._reachable.set()

    async def push_token(self, token: str) -> None:
        link = self.link
        if link is not None and not link.closed:
            await link.set_auth(token)

    async def run(self) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._connect_once(attempt)
                attempt = 0  # was live: the next failure starts over at 1
                # A short jittered pause, so a restarted server is not hit by every
                # display in the same millisecond.
                await self._pause(self._backoff.delay(1))
                continue
            except AuthFailed as exc:
                delay = self._s.auth_retry_seconds * (0.75 + 0.5 * self._s.rng.random())
                self._status.auth_failed(str(exc), delay, kind=exc.kind, code=exc.code)
                await self._pause(delay)
                attempt = 0
                continue
            except (BackendError, LinkDown, TimeoutError, OSError) as exc:
                error = str(exc) or type(exc).__name__
                kind = _error_kind(exc)
            delay = self._backoff.delay(attempt)
            self._status.attempt_failed(attempt, error, delay, kind)
            log.info("sync: attempt %d failed (%s); next in %.1f s", attempt, error, delay)
            await self._pause(delay)

    async def _pause(self, delay: float) -> None:
        """Wait ``delay`` s, or less if the server answers some other request meanwhile
        (only successes during the wait count, so a failing link cannot spin)."""
        self._reachable.clear()
        try:
            await asyncio.wait_for(self._reachable.wait(), delay)
        except TimeoutError:
            pass

    def _feed_now(self) -> Feed:
        """The feed to try on this attempt."""
        if self._s.feed is not Feed.AUTO:
            return self._s.feed
        if self._clock.monotonic() < self._broadcast_retry_at:
            return Feed.POSTGRES_CHANGES
        return Feed.BROADCAST

    async def _connect_once(self, attempt: int) -> None:
        """One attempt; returns after a live link was lost, raises if it never got live."""
        self._status.attempt_started(attempt)
        session = await self._auth.ensure()
        kitchen_id = self.kitchen_id or session.app_metadata.get("kitchen_id")
        if not isinstance(kitchen_id, str) or not kitchen_id:
            raise AuthFailed("no kitchen_id in app_metadata", kind=ErrorKind.NO_KITCHEN)
        self.kitchen_id = kitchen_id
        feed = self._feed_now()
        # A reconnect asked for from here on (a change too big to carry its row, arriving
        # while the board is fetched) is kept for the watch, not forgotten.
        self._force.clear()
        self._resync.begin()
        watch: _LinkWatch | None = None
        try:
            watch = await self._open(kitchen_id, session.access_token, feed)
            if feed is Feed.BROADCAST:
                problem = await self._prove_broadcast(watch, session.access_token)
                if problem is not None:
                    if self._s.feed is Feed.BROADCAST:
                        raise LinkDown(f"database broadcasts are not delivered: {problem}")
                    # Auto: this server (or schema) cannot do it; the change feed every
                    # Supabase server has. Changes seen so far stay buffered for the merge.
                    log.warning("sync: %s; using postgres_changes", problem)
                    self._broadcast_retry_at = self._clock.monotonic() + BROADCAST_RETRY_SECONDS
                    await self._drop(watch)
                    watch = None
                    feed = Feed.POSTGRES_CHANGES
                    watch = await self._open(kitchen_id, session.access_token, feed)
            if feed is Feed.POSTGRES_CHANGES:
                await self._wait_first(watch.ready, watch.closed, self._s.live_timeout)
                if watch.closed.is_set():
                    raise LinkDown(watch.why("closed before live"))
                if not watch.ready.is_set():
                    raise LinkDown("joined, but the server never confirmed the change feed")
            try:
                await self._resync.fetch(kitchen_id, self._s.fetch_timeout)
            except AuthExpired:
                await self._auth.renew(session.access_token)
                raise
            if watch.closed.is_set() or watch.link.closed:
                # Lost during the fetch: never flash Live before Reconnecting.
                raise LinkDown(watch.why("closed during the board fetch"))
            self._status.live(feed)
            self._status.skew(self._backend.clock_skew)
            self._on_live()
            why = await self._watch(watch.link, watch.closed, watch.reason)
            self._status.link_lost(why)
            log.info("sync: link lost: %s", why)
        finally:
            self._resync.end()
            if watch is not None:
                await self._drop(watch)

    async def _open(self, kitchen_id: str, token: str, feed: Feed) -> _LinkWatch:
        """Open a link and join (raises if that fails); not yet proven live."""
        session = self._auth.session
        tenant = _text_or_none(session.app_metadata.get("tenant_id")) if session else None
        watch = _LinkWatch(self._on_change)
        handlers = LinkHandlers(
            on_change=watch.on_change,
            on_presence=self._status.devices,
            on_broadcast=lambda event, payload: (
                None if watch.probe_seen(event, payload) else self._on_broadcast(event, payload)
            ),
            on_system=watch.on_system,
            on_close=watch.on_close,
            on_message=self._status.message,
        )
        try:
            watch.link = await asyncio.wait_for(
                self._backend.connect_channel(
                    kitchen_id,
                    token,
                    self._s.device,
                    handlers,
                    heartbeat_interval=self._s.heartbeat_interval,
                    timeout=self._s.join_timeout,
                    tenant_id=tenant,
                    feed=feed,
                ),
                self._s.join_timeout + 1.0,
            )
        except AuthExpired:
            await self._auth.renew(token)
            raise
        self.link = watch.link
        self.links_opened += 1
        # A refresh while connecting was pushed to no link: give this one the token now.
        current = self._auth.session
        if current is not None and current.access_token != token:
            await watch.link.set_auth(current.access_token)
        return watch

    def _on_change(self, ev: ChangeEvent) -> None:
        if ev.partial:
            # Too big to broadcast whole (a task's notes over Realtime's limit): the row
            # is fetched with the whole board on a fresh link, like after any rejoin.
            log.warning("sync: a %s change came without its row; fetching the board", ev.table)
            self.force_reconnect()
            return
        self._resync.on_change(ev)

    async def _prove_broadcast(self, watch: _LinkWatch, token: str) -> str | None:
        """Ask the database to broadcast a probe to this kitchen and wait for it on the
        link: None when it arrived, else why not. The whole path is proven — database
        trigger function, the server's delivery, this socket — before it is relied on."""
        watch.nonce = uuid.uuid4().hex
        try:
            await self._backend.feed_probe(watch.nonce, self._s.rpc_timeout)
        except AuthExpired:
            await self._auth.renew(token)
            raise
        except FeedUnavailable as exc:
            return str(exc)
        except ServerRefused as exc:
            return f"the probe was refused ({exc})"
        await self._wait_first(watch.ready, watch.closed, self._s.probe_timeout)
        if watch.closed.is_set():
            raise LinkDown(watch.why("closed before live"))
        if not watch.ready.is_set():
            return f"no probe back within {self._s.probe_timeout:g} s"
        return None

    async def _drop(self, watch: _LinkWatch) -> None:
        if self.link is watch.link:
            self.link = None
        if watch.link is not None:
            await watch.link.close()

    async def _watch(self, link: Link, closed: asyncio.Event, reason: list[str]) -> str:
        """Until the link dies: returns why."""
        hb = self._s.heartbeat_interval
        while True:
            await self._wait_first(closed, self._force, min(1.0, hb / 2))
            if closed.is_set():
                return reason[0] if reason else "link closed"
            if self._force.is_set():
                self._force.clear()
                return "reconnect requested"
            age = link.heartbeat_age()
            if age > 2 * hb:
                return f"no heartbeat reply for {age:.0f} s"

    @staticmethod
    async def _wait_first(a: asyncio.Event, b: asyncio.Event, timeout: float) -> None:  # noqa: ASYNC109
        if a.is_set() or b.is_set():
            return
        ta = asyncio.ensure_future(a.wait())
        tb = asyncio.ensure_future(b.wait())
        try:
            await asyncio.wait({ta, tb}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (ta, tb):
                t.cancel()
            await asyncio.gather(ta, tb, return_exceptions=True)


class _LinkWatch:
    """What one link has shown so far: closed (and why), ready (the change feed is
    confirmed, or the broadcast probe came back)."""

    def __init__(self, on_change: Callable[[ChangeEvent], None]) -> None:
        self.link: Link = _NO_LINK
        self.closed = asyncio.Event()
        self.ready = asyncio.Event()
        self.reason: list[str] = []
        self.nonce: str | None = None
        self.on_change = on_change

    def on_close(self, why: str) -> None:
        self.reason.append(why)
        self.closed.set()

    def on_system(self, ev: SystemEvent) -> None:
        if ev.extension == "postgres_changes" and ev.status == "ok" and PG_READY in ev.message:
            self.ready.set()
        elif ev.status != "ok":
            log.warning("sync: server says %s/%s: %s", ev.extension, ev.status, ev.message)

    def probe_seen(self, event: str, payload: dict[str, Any]) -> bool:
        """True for a probe broadcast (ours or another board's: never an announcement)."""
        if event != PROBE_EVENT:
            return False
        if self.nonce is not None and payload.get("nonce") == self.nonce:
            self.ready.set()
        return True

    def why(self, default: str) -> str:
        return self.reason[0] if self.reason else default


class _NoLink:
    closed = True

    def heartbeat_age(self) -> float:
        return 0.0

    async def set_auth(self, access_token: str) -> None:
        pass

    async def close(self) -> None:
        pass


_NO_LINK: Link = _NoLink()


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _error_kind(exc: BaseException) -> ErrorKind:
    """What kind of trouble an attempt had (the UI words it)."""
    if isinstance(exc, TransportError) and exc.answered:
        return ErrorKind.SERVER
    if isinstance(exc, LinkDown):
        return ErrorKind.LINK
    if isinstance(exc, ServerRefused):
        return ErrorKind.SERVER
    return ErrorKind.NETWORK
