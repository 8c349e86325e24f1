"""Which feed a board uses, and that it proves it before relying on it (fake backend;
the real stack's tests are in tests/sync/integration/test_feed_modes.py)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from caterking_display.backend.types import ChangeEvent
from caterking_display.domain.actions import Action
from caterking_display.domain.clock import FixedClock, SystemClock
from caterking_display.domain.sync_status import ConnectionState as S
from caterking_display.domain.sync_status import Feed
from caterking_display.sync import SyncEngine, SyncSettings
from tests.store.factory import ME, STAFF, done, new_store, task, tid
from tests.sync.fakes import FakeBackend
from tests.waiting import until


def engine(
    backend: FakeBackend, feed: Feed, clock: FixedClock | None = None, **kw: object
) -> SyncEngine:
    settings = SyncSettings(
        email="d@x",
        password="p",
        backoff_base=0.01,
        backoff_cap=0.05,
        heartbeat_interval=0.2,
        live_timeout=0.5,
        join_timeout=0.5,
        probe_timeout=0.3,
        rng=random.Random(5),
        feed=feed,
        **kw,  # type: ignore[arg-type]
    )
    return SyncEngine(new_store(clock=clock), backend, clock or SystemClock(), settings)


async def test_auto_uses_broadcasts_when_the_probe_comes_back() -> None:
    backend = FakeBackend(broadcasts=True)
    e = engine(backend, Feed.AUTO)
    e.start()
    try:
        await until(lambda: e.status.state is S.LIVE, 5)
        assert e.status.feed is Feed.BROADCAST
        assert [link.feed for link in backend.links] == [Feed.BROADCAST]
        assert len(backend.probes) == 1
        # Changes arriving as broadcasts reach the store like any other.
        t = task(1)
        backend.links[0].change("tasks", "INSERT", t.to_row())
        await until(lambda: e.store.get(tid(1)) is not None, 2)
    finally:
        await e.stop()


async def test_auto_falls_back_to_postgres_changes_in_the_same_attempt() -> None:
    backend = FakeBackend(broadcasts=False)  # a schema before the probe function
    e = engine(backend, Feed.AUTO)
    e.start()
    try:
        await until(lambda: e.status.state is S.LIVE, 5)
        assert e.status.feed is Feed.POSTGRES_CHANGES
        assert [link.feed for link in backend.links] == [Feed.BROADCAST, Feed.POSTGRES_CHANGES]
        assert backend.links[0].closed and not backend.links[1].closed
        assert e.status.attempt == 0 and e.status.last_error is None  # no failure shown
        # A reconnect soon after does not try broadcasts again.
        backend.links[1].server_close()
        await until(lambda: len(backend.links) == 3 and e.status.state is S.LIVE, 5)
        assert backend.links[2].feed is Feed.POSTGRES_CHANGES
        assert len(backend.probes) == 1
    finally:
        await e.stop()


async def test_a_probe_that_never_arrives_falls_back_too() -> None:
    backend = FakeBackend(broadcasts=True, auto_ready=False)  # accepted, never delivered
    e = engine(backend, Feed.AUTO)
    e.start()
    try:
        await until(lambda: len(backend.links) == 2, 5)
        backend.links[1].pg_ready()
        await until(lambda: e.status.state is S.LIVE, 5)
        assert e.status.feed is Feed.POSTGRES_CHANGES
    finally:
        await e.stop()


async def test_forced_broadcast_fails_the_attempt_with_a_reason() -> None:
    backend = FakeBackend(broadcasts=False)
    e = engine(backend, Feed.BROADCAST)
    e.start()
    try:
        await until(lambda: e.status.last_error is not None, 5)
        assert "database broadcasts are not delivered" in (e.status.last_error or "")
        assert e.status.state is not S.LIVE
        assert all(link.feed is Feed.BROADCAST for link in backend.links)
        # And once the server can, it goes live.
        backend.broadcasts = True
        await until(lambda: e.status.state is S.LIVE, 5)
    finally:
        await e.stop()


async def test_forced_postgres_changes_never_probes() -> None:
    backend = FakeBackend(broadcasts=True)
    e = engine(backend, Feed.POSTGRES_CHANGES)
    e.start()
    try:
        await until(lambda: e.status.state is S.LIVE, 5)
        assert e.status.feed is Feed.POSTGRES_CHANGES and backend.probes == []
    finally:
        await e.stop()


async def test_another_boards_probe_is_not_an_announcement() -> None:
    backend = FakeBackend(broadcasts=True)
    e = engine(backend, Feed.AUTO)
    e.start()
    try:
        await until(lambda: e.status.state is S.LIVE, 5)
        backend.links[0].handlers.on_broadcast("caterking_probe", {"nonce": "someone-else"})
        backend.links[0].handlers.on_broadcast("announcement", {"message": "Fire table 4"})
        await until(lambda: e.status.announcement == "Fire table 4", 2)
        e.store.enqueue(Action.CLAIM, tid(1), ME)  # unrelated: the engine still works
    finally:
        await e.stop()


async def test_a_change_too_big_to_broadcast_is_fetched_not_lost() -> None:
    backend = FakeBackend(broadcasts=True)
    e = engine(backend, Feed.AUTO)
    e.start()
    try:
        await until(lambda: e.status.state is S.LIVE, 5)
        fetches = backend.fetches
        t = task(1)
        backend.tasks[t.id] = t  # what the server has
        backend.links[0].handlers.on_change(
            ChangeEvent("tasks", "INSERT", {"id": t.id, "version": 1}, None, None, partial=True)
        )
        await until(lambda: backend.fetches > fetches and e.store.get(tid(1)) is not None, 5)
        assert len(backend.links) == 2 and backend.links[0].closed
    finally:
        await e.stop()


async def test_a_change_too_big_to_broadcast_during_the_fetch_is_not_lost() -> None:
    """Review finding: a partial change arriving while the board was fetched asked for a
    reconnect that the watch then forgot, so the old row stayed on a Live board."""
    backend = FakeBackend(broadcasts=True)
    t = task(1)

    def during_fetch() -> None:
        if backend.fetches == 1:
            # The change is heard while the fetch runs; its row is committed just after
            # the fetch read the tasks, so this fetch does not have it.
            backend.links[0].handlers.on_change(
                ChangeEvent("tasks", "INSERT", {"id": t.id, "version": 1}, None, None, partial=True)
            )
            asyncio.get_running_loop().call_soon(backend.tasks.__setitem__, t.id, t)

    backend.on_fetch = during_fetch
    e = engine(backend, Feed.AUTO)
    e.start()
    try:
        await until(lambda: e.store.get(tid(1)) is not None, 5)
        assert len(backend.links) == 2  # the board was fetched again on a fresh link
    finally:
        await e.stop()


async def test_a_board_that_stays_connected_forgets_old_finished_tasks() -> None:
    """The engine cleans up every `forget_every` seconds of its clock: a board up for days
    on one link holds the history window, not everything since it started."""
    clock = FixedClock(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    backend = FakeBackend(broadcasts=True)
    e = engine(backend, Feed.AUTO, clock, board_history=timedelta(hours=12), forget_every=300)
    store = e.store
    e.start()
    try:
        await until(lambda: e.status.state is S.LIVE, 5)
        store.apply_server_task(done(1, 2, ME).evolve(updated_at=clock.now()))
        store.apply_server_staff(STAFF[0])
        clock.advance(12 * 3600 + 60)  # the task is past the window, the clean-up is due
        await until(lambda: store.get(tid(1)) is None, 5)
        assert e.status.state is S.LIVE and len(backend.links) == 1  # no rejoin needed
    finally:
        await e.stop()
