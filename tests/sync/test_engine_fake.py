"""SyncEngine wiring against the fake backend: state order, rebuild on failure,
resync after every live, heartbeat watchdog, auth failure, clean shutdown."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from caterking_display.backend.types import AuthExpired, AuthRejected, RpcResult
from caterking_display.domain.actions import Action
from caterking_display.domain.clock import SystemClock
from caterking_display.domain.sync_status import ConnectionState as S
from caterking_display.domain.sync_status import Feed
from caterking_display.sync import SyncEngine, SyncSettings
from tests.store.factory import ME, STAFF, new_store, task, tid
from tests.sync.fakes import Call, FakeBackend, transport
from tests.waiting import until


def settings(**kw: object) -> SyncSettings:
    base: dict[str, object] = dict(
        email="d@x",
        password="p",
        backoff_base=0.01,
        backoff_cap=0.05,
        heartbeat_interval=0.2,
        live_timeout=0.5,
        join_timeout=0.5,
        auth_retry_seconds=0.1,
        rng=random.Random(5),
        feed=Feed.POSTGRES_CHANGES,  # the feed choice has its own tests (test_feed.py)
    )
    base.update(kw)
    return SyncSettings(**base)  # type: ignore[arg-type]


def engine(backend: FakeBackend, **kw: object) -> SyncEngine:
    return SyncEngine(new_store(), backend, SystemClock(), settings(**kw))


async def test_connects_resyncs_goes_live_and_rebuilds_after_a_server_close() -> None:
    backend = FakeBackend(tasks={tid(1): task(1)}, staff=STAFF)
    e = engine(backend)
    e.start()
    await until(lambda: e.status.state is S.LIVE)
    assert backend.fetches == 1 and tid(1) in e.store.view().tasks
    backend.tasks[tid(2)] = task(2)  # changed while the link is down
    backend.links[0].server_close("phx_close")
    await until(lambda: len(backend.links) == 2 and e.status.state is S.LIVE)
    assert backend.links[0].closed and backend.fetches == 2
    assert tid(2) in e.store.view().tasks
    assert e.tracker.history == [S.CONNECTING, S.LIVE, S.RECONNECTING, S.LIVE]
    await e.stop()
    assert backend.links[1].closed


async def test_live_only_after_the_change_feed_is_confirmed() -> None:
    backend = FakeBackend(auto_ready=False)
    e = engine(backend, live_timeout=0.3)
    e.start()
    await until(lambda: len(backend.links) >= 2)  # never confirmed: rebuilt
    assert S.LIVE not in e.tracker.history
    assert "never confirmed" in (e.status.last_error or "")
    backend.auto_ready = True
    await until(lambda: e.status.state is S.LIVE)
    await e.stop()


async def test_missing_heartbeat_replies_rebuild_the_link() -> None:
    backend = FakeBackend()
    e = engine(backend, heartbeat_interval=0.1)
    e.start()
    await until(lambda: e.status.state is S.LIVE)
    backend.links[0].stalled_at = time.monotonic()  # replies stop coming
    await until(lambda: len(backend.links) == 2 and e.status.state is S.LIVE)
    assert backend.links[0].closed
    assert "heartbeat" in (e.status.last_error or "")
    await e.stop()


async def test_failed_attempts_back_off_then_offline_then_live() -> None:
    backend = FakeBackend(connect_errors=[transport("refused")] * 5)
    e = engine(backend, offline_after_attempts=3)
    e.start()
    await until(lambda: e.status.state is S.LIVE)
    assert e.tracker.history == [S.CONNECTING, S.OFFLINE, S.LIVE]
    await e.stop()


async def test_bad_credentials_are_auth_failed_with_a_reason_and_retried() -> None:
    backend = FakeBackend(sign_in_error=AuthRejected("The device's email or password is wrong"))
    e = engine(backend)
    e.start()
    await until(lambda: e.status.state is S.AUTH_FAILED)
    assert "password" in (e.status.last_error or "")
    backend.sign_in_error = None
    await until(lambda: e.status.state is S.LIVE)
    await e.stop()


async def test_tokens_are_refreshed_early_and_pushed_to_the_link() -> None:
    backend = FakeBackend(token_lifetime=0.5)
    e = engine(backend)
    e.start()
    await until(lambda: e.status.state is S.LIVE)
    await until(lambda: backend.refreshes >= 3)
    assert len(backend.links[-1].tokens) >= 2
    assert e.status.state is S.LIVE
    await e.stop()


async def test_an_enqueue_is_sent_without_an_explicit_kick() -> None:
    backend = FakeBackend(tasks={tid(1): task(1)}, staff=STAFF)
    e = engine(backend)
    e.start()
    await until(lambda: e.status.state is S.LIVE)
    e.store.enqueue(Action.CLAIM, tid(1), ME)
    assert e.status.pending_count == 1
    await until(lambda: not e.store.pending_ops())
    await until(lambda: e.status.pending_count == 0)
    await e.stop()


async def test_stop_cancels_and_awaits_every_task() -> None:
    before = asyncio.all_tasks()
    backend = FakeBackend()
    e = engine(backend)
    e.start()
    await until(lambda: e.status.state is S.LIVE)
    await e.stop()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()


async def test_a_link_lost_during_the_board_fetch_is_never_shown_as_live() -> None:
    backend = FakeBackend()
    fetches: list[int] = []

    def drop_first() -> None:
        fetches.append(1)
        if len(fetches) == 1:
            backend.links[-1].server_close("phx_close")

    backend.on_fetch = drop_first
    e = engine(backend)
    e.start()
    await until(lambda: len(backend.links) == 2 and e.status.state is S.LIVE)
    assert e.tracker.history == [S.CONNECTING, S.LIVE]  # no Live → Reconnecting flicker
    assert backend.links[0].closed
    await e.stop()


class _LongestWait(random.Random):
    """Backoff jitter that always picks the longest wait."""

    def uniform(self, a: float, b: float) -> float:
        return b


async def _in_a_long_backoff() -> tuple[FakeBackend, SyncEngine]:
    backend = FakeBackend(tasks={tid(1): task(1)}, staff=STAFF)
    backend.connect_errors = [transport("refused")]
    e = engine(backend, backoff_base=30.0, backoff_cap=30.0, rng=_LongestWait())
    e.store.replace_board([task(1)], STAFF)  # the saved board
    e.start()
    await until(lambda: e.status.next_retry_at is not None and backend.connects == 1)
    return backend, e


async def test_an_answered_action_cuts_the_reconnect_backoff_short() -> None:
    backend, e = await _in_a_long_backoff()  # next try in 30 s
    e.store.enqueue(Action.CLAIM, tid(1), ME)
    await until(lambda: not e.store.pending_ops())  # the RPC went through
    await until(lambda: backend.connects == 2 and e.status.state is S.LIVE, within=2.0)
    await e.stop()


async def test_a_token_refresh_cuts_the_reconnect_backoff_short() -> None:
    backend, e = await _in_a_long_backoff()
    await e.auth.renew()
    await until(lambda: backend.connects == 2 and e.status.state is S.LIVE, within=2.0)
    await e.stop()


async def test_a_token_refreshed_while_connecting_is_pushed_to_the_new_link() -> None:
    backend = FakeBackend()
    backend.connect_gate = asyncio.Event()
    e = engine(backend)
    e.start()
    await until(lambda: backend.connects == 1)
    old = e.auth.session
    assert old is not None
    new = await e.auth.renew(old.access_token)  # the refresher's push finds no link
    await e.supervisor.push_token(new.access_token)
    backend.connect_gate.set()
    await until(lambda: e.status.state is S.LIVE)
    assert backend.links[0].tokens == [new.access_token] != [old.access_token]
    await e.stop()


async def test_a_401_after_another_caller_refreshed_does_not_refresh_again() -> None:
    class RefreshedMeanwhile(FakeBackend):
        engine: SyncEngine | None = None

        async def call_action(self, *args: Any, **kw: Any) -> RpcResult:
            if len(self.calls) == 0:
                self.calls.append(Call(*args[:4]))
                assert self.engine is not None and self.engine.auth.session is not None
                # The refresher replaces the token while this request is in flight.
                await self.engine.auth.renew(self.engine.auth.session.access_token)
                raise AuthExpired("JWT expired")
            return await super().call_action(*args, **kw)

    backend = RefreshedMeanwhile(tasks={tid(1): task(1)}, staff=STAFF)
    e = engine(backend)
    backend.engine = e
    e.store.replace_board([task(1)], STAFF)
    e.start()
    await until(lambda: e.status.state is S.LIVE)
    e.store.enqueue(Action.CLAIM, tid(1), ME)
    await until(lambda: not e.store.pending_ops())
    assert len(backend.calls) == 2  # resent with the new token...
    assert backend.refreshes == 1  # ...which the 401 did not replace again
    await e.stop()
