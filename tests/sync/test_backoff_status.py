"""Backoff bounds and the connection state machine (pure logic, no network)."""

from __future__ import annotations

import random
from datetime import timedelta

from caterking_display.domain.sync_status import ConnectionState as S
from caterking_display.sync.backoff import Backoff
from caterking_display.sync.status import StatusTracker
from tests.store.factory import T0, make_clock


def test_backoff_full_jitter_stays_within_capped_exponential_bounds() -> None:
    b = Backoff(base=0.5, cap=30.0, rng=random.Random(7), floor=0.0)
    assert [b.ceiling(n) for n in (1, 2, 3, 4, 6, 7, 50, 10_000)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        16.0,
        30.0,
        30.0,
        30.0,
    ]
    for attempt in range(1, 40):
        samples = [b.delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= b.ceiling(attempt) for d in samples)
    # Full jitter really spreads: at the cap the samples cover most of [0, 30].
    late = [b.delay(20) for _ in range(500)]
    assert min(late) < 3 and max(late) > 27


def test_backoff_is_deterministic_with_an_injected_rng() -> None:
    a = Backoff(rng=random.Random(1))
    b = Backoff(rng=random.Random(1))
    assert [a.delay(n) for n in range(1, 10)] == [b.delay(n) for n in range(1, 10)]
    assert Backoff(rng=random.Random(1), floor=0.05).delay(1) >= 0.05


def test_states_and_facts_through_a_whole_outage() -> None:
    clock = make_clock()
    t = StatusTracker(clock, offline_after_attempts=3, offline_after_seconds=40)
    seen: list[S] = []
    t.on_status(lambda st: seen.append(st.state))
    assert t.status.state is S.CONNECTING and t.status.since == T0

    t.attempt_started(1)
    clock.advance(1)
    t.live()
    st = t.status
    assert st.state is S.LIVE and st.attempt == 0 and st.last_sync_at == T0 + timedelta(seconds=1)
    assert st.since == T0 + timedelta(seconds=1)

    clock.advance(10)
    t.link_lost("socket closed (1006)")
    st = t.status
    assert st.state is S.RECONNECTING and st.last_error == "socket closed (1006)"
    assert st.since == T0 + timedelta(seconds=11)

    t.attempt_started(1)
    t.attempt_failed(1, "connection refused", 0.4)
    st = t.status
    assert st.state is S.RECONNECTING and st.attempt == 1
    assert st.next_retry_at == clock.now() + timedelta(seconds=0.4)
    t.attempt_failed(2, "connection refused", 0.9)
    assert t.status.state is S.RECONNECTING and t.status.attempt == 2
    t.attempt_failed(3, "connection refused", 1.5)
    st = t.status
    assert st.state is S.OFFLINE and st.attempt == 3
    offline_since = st.since
    # Trying again while offline stays "offline since …".
    clock.advance(5)
    t.attempt_started(4)
    assert t.status.state is S.OFFLINE and t.status.since == offline_since
    t.live()
    assert t.status.state is S.LIVE and t.status.attempt == 0 and t.status.next_retry_at is None
    assert t.history == [S.CONNECTING, S.LIVE, S.RECONNECTING, S.OFFLINE, S.LIVE]
    assert S.LIVE in seen and seen[-1] is S.LIVE  # listeners heard the changes


def test_offline_after_forty_seconds_without_a_link_even_without_failures() -> None:
    clock = make_clock()
    t = StatusTracker(clock, offline_after_attempts=100, offline_after_seconds=40)
    t.live()
    t.link_lost("no heartbeat reply for 11 s")
    clock.advance(39)
    t.tick()
    assert t.status.state is S.RECONNECTING
    clock.advance(2)
    t.tick()
    assert t.status.state is S.OFFLINE


def test_first_connect_failures_stay_connecting_until_offline() -> None:
    clock = make_clock()
    t = StatusTracker(clock, offline_after_attempts=2, offline_after_seconds=40)
    t.attempt_started(1)
    t.attempt_failed(1, "refused", 0.3)
    assert t.status.state is S.CONNECTING and t.status.attempt == 1
    t.attempt_failed(2, "refused", 0.6)
    assert t.status.state is S.OFFLINE


def test_auth_failed_says_why_and_when_it_retries() -> None:
    clock = make_clock()
    t = StatusTracker(clock)
    t.auth_failed("Sign-in failed: wrong password", 60)
    st = t.status
    assert st.state is S.AUTH_FAILED and st.last_error and "wrong password" in st.last_error
    assert st.next_retry_at == T0 + timedelta(seconds=60)
    t.attempt_started(1)
    assert t.status.state is S.CONNECTING


def test_pending_skew_presence_and_announcement_facts() -> None:
    clock = make_clock()
    t = StatusTracker(clock)
    t.pending(3, T0)
    t.skew(timedelta(seconds=45))
    t.devices(2)
    t.announcement("Staff meal at 3")
    st = t.status
    assert (st.pending_count, st.oldest_pending_at, st.devices_online) == (3, T0, 2)
    assert st.skew_warning and st.announcement == "Staff meal at 3"
    t.skew(timedelta(seconds=2))
    assert not t.status.skew_warning


def test_a_failing_status_listener_does_not_break_the_tracker() -> None:
    t = StatusTracker(make_clock())

    def bad(_st: object) -> None:
        raise RuntimeError("boom")

    t.on_status(bad)
    t.live()
    assert t.status.state is S.LIVE
