"""SyncEngine: wires the store to the server (docs/architecture.md, "The board's layers").

    store = BoardStore.open(path, clock, device="pass-1")
    backend = SupabaseBackend(url, anon_key)
    settings = SyncSettings(email=..., password=..., kitchen_id=..., device="pass-1")
    engine = SyncEngine(store, backend, clock, settings)
    engine.on_status(ui_callback)           # SyncStatus snapshots for the banner
    task = asyncio.create_task(engine.run())  # or engine.start()
    ...
    await engine.stop()                     # cancels and awaits everything it started

The UI enqueues through the store (``store.enqueue``); the engine hears the store
change and pumps the outbox (``kick()`` also works, from any thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from caterking_display.backend.types import Backend
from caterking_display.domain.clock import Clock
from caterking_display.domain.device import recorded_device
from caterking_display.domain.sync_status import ErrorKind, SyncStatus
from caterking_display.domain.text import printable
from caterking_display.store import BoardStore, meta_keys
from caterking_display.sync.auth import AuthFailed, DeviceAuth
from caterking_display.sync.outbox import Outbox
from caterking_display.sync.resync import Resync
from caterking_display.sync.settings import SyncSettings
from caterking_display.sync.status import StatusListener, StatusTracker
from caterking_display.sync.supervisor import Supervisor

log = logging.getLogger(__name__)

ANNOUNCEMENT_MAX = 300  # characters of an announcement shown on the board


class SyncEngine:
    def __init__(
        self, store: BoardStore, backend: Backend, clock: Clock, settings: SyncSettings
    ) -> None:
        self.store = store
        self.backend = backend
        self._clock = clock
        self.settings = settings
        self.tracker = StatusTracker(
            clock,
            offline_after_attempts=settings.offline_after_attempts,
            offline_after_seconds=settings.offline_after_seconds,
        )
        self.auth = DeviceAuth(backend, clock, settings)
        self.resync = Resync(store, backend)
        self.outbox = Outbox(
            store,
            backend,
            settings,
            renew_token=self._renew,
            ensure_session=self.auth.ensure,
            current_token=self._token,
            on_confirmed=self._answered,
            monotonic=clock.monotonic,
        )
        self.supervisor = Supervisor(
            backend,
            clock,
            settings,
            self.auth,
            self.resync,
            self.tracker,
            on_live=self.outbox.link_up,
            on_broadcast=self._on_broadcast,
        )
        self.auth.on_session = self._session_started
        self._tasks: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()
        self._main: asyncio.Task[None] | None = None
        self._unsub: list[Callable[[], None]] = []
        self._running = False

    def _session_started(self) -> None:
        """After every sign-in or refresh: the server is reachable again, and this board
        takes the device name its account's actions are recorded under."""
        self.supervisor.server_reachable()
        session = self.auth.session
        if session is not None:
            name = recorded_device(session.app_metadata, session.email)
            if name is not None:
                self.store.adopt_device_name(name)

    # --- public API -----------------------------------------------------------------

    @property
    def status(self) -> SyncStatus:
        return self.tracker.status

    def on_status(self, listener: StatusListener) -> Callable[[], None]:
        """Hear every new SyncStatus (called on the event loop's thread)."""
        return self.tracker.on_status(listener)

    def kick(self) -> None:
        """Wake the outbox (after an enqueue). Safe from any thread."""
        loop = self._loop
        if loop is None:
            return
        if _on_loop(loop):
            self.outbox.kick()
        else:
            loop.call_soon_threadsafe(self.outbox.kick)

    def reconnect(self) -> None:
        """Drop the realtime link and build a new one."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self.supervisor.force_reconnect)

    def start(self) -> asyncio.Task[None]:
        """Run in the background on the current loop; ``await stop()`` ends it."""
        if self._main is None:
            self._main = asyncio.create_task(self.run(), name="sync-engine")
        return self._main

    async def run(self) -> None:
        """Sync until ``stop()``."""
        if self._running:
            raise RuntimeError("SyncEngine.run() is already running")
        self._running = True
        self._loop = asyncio.get_running_loop()
        self._stop.clear()
        self._unsub.append(self.store.subscribe(self._on_store_change))
        self._update_pending()
        self.tracker.board_saved(self.store.saved_at)
        self._spawn(self.supervisor.run(), "sync-supervisor")
        self._spawn(self.outbox.run(), "sync-outbox")
        self._spawn(self.auth.run_refresher(self._push_token, self._auth_failed), "sync-auth")
        self._spawn(self._ticker(), "sync-ticker")
        if self.store.next_op() is not None:
            self.outbox.kick()
        try:
            await self._stop.wait()
        finally:
            await self._shutdown()

    async def stop(self) -> None:
        """Stop syncing: cancel and await every task the engine started."""
        self._stop.set()
        main = self._main
        if main is not None and main is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError):
                await main
            self._main = None
        elif self._tasks:
            await self._shutdown()

    # --- internals ------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(self._guard(coro, name), name=name))

    async def _guard(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sync: %s crashed; stopping sync", name)
            self.tracker.link_lost(f"internal error in {name}", ErrorKind.INTERNAL)

    async def _shutdown(self) -> None:
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        link = self.supervisor.link
        if link is not None:
            await link.close()
        for unsub in self._unsub:
            unsub()
        self._unsub.clear()
        self._running = False

    def _token(self) -> str | None:
        session = self.auth.session
        return session.access_token if session else None

    async def _renew(self, stale_token: str | None) -> None:
        """A request carrying ``stale_token`` was refused: refresh, unless another caller
        already did (None: refresh in any case)."""
        await self.auth.renew(stale_token)

    def _answered(self) -> None:
        """The server answered an action: the server is reachable."""
        self.tracker.synced()
        self.supervisor.server_reachable()

    async def _push_token(self, token: str) -> None:
        await self.supervisor.push_token(token)

    def _auth_failed(self, exc: AuthFailed) -> None:
        self.tracker.auth_failed(
            str(exc), self.settings.auth_retry_seconds, kind=exc.kind, code=exc.code
        )

    def _on_broadcast(self, event: str, payload: dict[str, Any]) -> None:
        if event.lower() not in ("announcement", "announce"):
            return
        text = payload.get("message", payload.get("text"))
        # Anyone allowed on the channel can broadcast: bound it and make it safe to show.
        shown = printable(str(text))[:ANNOUNCEMENT_MAX] if text else None
        self.tracker.announcement(shown or None)

    def _on_store_change(self, _ids: frozenset[str]) -> None:
        # Called on whichever thread changed the store.
        loop = self._loop
        if loop is None:
            return
        if _on_loop(loop):
            self._after_store_change()
        else:
            loop.call_soon_threadsafe(self._after_store_change)

    def _after_store_change(self) -> None:
        self._update_pending()
        if self.store.next_op() is not None:
            self.outbox.kick()

    def _update_pending(self) -> None:
        ops = self.store.pending_ops()
        self.tracker.pending(len(ops), ops[0].created_at if ops else None)
        self.tracker.board_saved(self.store.saved_at)
        self.tracker.kitchen(self.store.get_meta(meta_keys.KITCHEN_NAME))

    async def _ticker(self) -> None:
        last_forget = self._clock.monotonic()
        while True:
            await asyncio.sleep(1.0)
            self.tracker.tick()
            self.tracker.skew(self.backend.clock_skew)
            self._apply_skew()
            if self._clock.monotonic() - last_forget >= self.settings.forget_every:
                last_forget = self._clock.monotonic()
                self.store.forget_finished(self._clock.now() - self.settings.board_history)

    def _apply_skew(self) -> None:
        skew = self.backend.clock_skew
        if skew is not None and hasattr(self._clock, "skew"):
            # SystemClock: timers use server time.
            setattr(self._clock, "skew", skew)  # noqa: B010


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
