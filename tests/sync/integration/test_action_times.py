"""When a chef acted is a fact: an action that reaches the server late keeps the time the
chef pressed the button, on the server and on every board (not the time it arrived)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from caterking_display.backend import supabase_backend as sb
from caterking_display.domain.actions import Action
from caterking_display.domain.clock import SystemClock
from caterking_display.domain.sync_status import ConnectionState as S
from caterking_display.domain.task import Status
from caterking_server.stack import LocalStack
from tests.faultproxy import FaultProxy
from tests.pg import SERVICE, Kitchen, add_task, as_claims
from tests.sync.integration.conftest import Clients
from tests.waiting import until

# The server's offset is measured from HTTP Date headers (1 s resolution, midpoint of
# the round trip): a corrected device clock is within this of the server's.
SKEW_BOUND = timedelta(seconds=1.5)


class SetBackClock:
    """A device clock reading ``behind`` earlier than real time, with no skew hook (the
    engine cannot correct it). With it, "the chef acted three minutes before the server
    heard of it" needs no three minutes of waiting: the server's real time is the
    delivery time, the device's is the moment of acting."""

    def __init__(self, behind: timedelta) -> None:
        self.behind = behind

    def now(self) -> datetime:
        return datetime.now(UTC) - self.behind

    def monotonic(self) -> float:
        return time.monotonic()


SLOW = timedelta(seconds=90)


class SlowSystemClock(SystemClock):
    """The app's clock on a device whose wall clock runs 90 s slow; the engine corrects
    it by the skew the backend measures (the backend reads the same slow wall clock)."""

    def now(self) -> datetime:
        return datetime.now(UTC) - SLOW + self.skew


def both_live(*engines: Any) -> bool:
    return all(e.status.state is S.LIVE for e in engines)


def claim_ten_minutes_ago(db: psycopg.Connection[Any], tid: str, chef: str) -> datetime:
    """Shape the row as Admin (service role) would leave it: created half an hour ago,
    claimed ten minutes ago (an action can never be stamped before either)."""
    with as_claims(db, SERVICE):
        row = db.execute(
            "update tasks set status = 'claimed', claimed_by = %s, claimed_device = 'pass-a', "
            "created_at = now() - interval '30 minutes', "
            "claimed_at = now() - interval '10 minutes' where id = %s returning claimed_at",
            (chef, tid),
        ).fetchone()
    assert row is not None
    claimed_at: datetime = row["claimed_at"]
    return claimed_at


async def test_a_completion_delivered_late_keeps_the_time_the_chef_acted(
    clients: Clients,
    kitchen: Kitchen,
    db: psycopg.Connection[Any],
    proxy: FaultProxy,
    sync_stack: LocalStack,
) -> None:
    chef = kitchen.staff[0]
    tid = add_task(db, kitchen, title="Lemon tart shells")
    claimed_at = claim_ten_minutes_ago(db, tid, chef)
    a = clients.make("pass-a", clock=SetBackClock(timedelta(minutes=3)))  # via the proxy
    b = clients.make("pass-b", url=sync_stack.url)  # direct
    await until(lambda: both_live(a, b) and tid in a.store.view().tasks, 10)

    await proxy.refuse(True)  # the kitchen Wi-Fi drops
    await until(lambda: a.status.state is not S.LIVE, 5)
    op = a.store.enqueue(Action.COMPLETE, tid, chef)
    acted = op.created_at  # device time T: three minutes before the server will hear
    assert a.store.view().tasks[tid].task.completed_at == acted  # shown at once
    # It really was tried while the link was down.
    await until(
        lambda: bool(a.store.pending_ops()) and a.store.pending_ops()[0].last_error is not None, 10
    )

    await proxy.heal()
    await until(lambda: not a.store.pending_ops(), 10)
    row = db.execute(
        "select status, claimed_at, completed_at from tasks where id = %s", (tid,)
    ).fetchone()
    assert row == {"status": "done", "claimed_at": claimed_at, "completed_at": acted}
    ledger = db.execute(
        "select acted_at, received_at from task_ops where op_id = %s", (op.op_id,)
    ).fetchone()
    assert ledger is not None and ledger["acted_at"] == acted
    assert ledger["received_at"] - acted >= timedelta(minutes=3)
    # The card did not jump on confirmation, and the other board shows the same time.
    shown = a.store.view().tasks[tid]
    assert not shown.pending and shown.task.completed_at == acted
    await until(lambda: b.store.view().tasks[tid].task.status is Status.DONE, 5)
    assert b.store.view().tasks[tid].task.completed_at == acted
    assert b.store.view().tasks[tid].task.claimed_at == claimed_at


async def test_a_slow_device_clock_is_corrected_before_the_time_is_sent(
    clients: Clients,
    kitchen: Kitchen,
    db: psycopg.Connection[Any],
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The device's wall clock as the backend reads it (for the Date-header skew).
    monkeypatch.setattr(sb, "_now_unix", lambda: time.time() - SLOW.total_seconds())
    chef = kitchen.staff[1]
    tid = add_task(
        db, kitchen, title="Dice onions", created_at=datetime.now(UTC) - timedelta(hours=1)
    )
    clock = SlowSystemClock()
    a = clients.make("pass-a", clock=clock)
    # The engine measured the server's offset (HTTP Date) and corrected its clock.
    await until(
        lambda: a.status.state is S.LIVE and abs(clock.skew - SLOW) < SKEW_BOUND,
        10,
    )
    assert tid in a.store.view().tasks

    await proxy.refuse(True)
    await until(lambda: a.status.state is not S.LIVE, 5)
    real = datetime.now(UTC)
    op = a.store.enqueue(Action.COMPLETE, tid, chef)
    await until(
        lambda: bool(a.store.pending_ops()) and a.store.pending_ops()[0].last_error is not None, 10
    )
    await proxy.heal()
    await until(lambda: not a.store.pending_ops(), 10)

    row = db.execute("select claimed_at, completed_at from tasks where id = %s", (tid,)).fetchone()
    assert row is not None
    # Completed from pending: claimed and completed at the same moment, the chef's
    # (on server time: the device's own clock was 90 s behind). The server may have
    # clamped it to its now, if the corrected clock ran a little ahead.
    assert row["completed_at"] == row["claimed_at"]
    assert abs(row["completed_at"] - op.created_at) <= SKEW_BOUND
    assert abs(row["completed_at"] - real) <= SKEW_BOUND
