"""Both change feeds end to end (issue 13): real sync engines against the real local
stack. In each feed a board hears every change of its kitchen (tasks, chefs, the other
board's actions) and nothing of another kitchen's or another tenant's; a board that
switches feed between two runs misses nothing (the resync after every join)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from caterking_display.domain.actions import Action
from caterking_display.domain.clock import SystemClock
from caterking_display.domain.sync_status import ConnectionState as S
from caterking_display.domain.sync_status import Feed
from caterking_display.domain.task import Status
from caterking_display.store import BoardStore
from caterking_display.sync import SyncEngine
from caterking_server.stack import LocalStack
from tests.faultproxy import FaultProxy
from tests.pg import Kitchen, add_task, seed_kitchen
from tests.schema.test_kitchen_scope import add_kitchen
from tests.stack import create_display
from tests.sync.integration.conftest import Clients
from tests.waiting import until


def clients_of(stack: LocalStack, proxy: FaultProxy, k: Kitchen) -> Clients:
    return Clients(proxy.url, stack.anon_key, create_display(stack.url, stack.service_role_key, k))


def titles(board: SyncEngine) -> set[str]:
    return {t.task.title for t in board.store.view().tasks.values()}


@pytest.mark.parametrize(
    ("configured", "used"),
    [(Feed.AUTO, Feed.BROADCAST), (Feed.BROADCAST, Feed.BROADCAST), (Feed.POSTGRES_CHANGES,) * 2],
)
async def test_each_feed_carries_the_kitchen_and_nothing_else(
    sync_stack: LocalStack,
    proxy: FaultProxy,
    db: psycopg.Connection[Any],
    configured: Feed,
    used: Feed,
) -> None:
    a = seed_kitchen(db)  # type: ignore[arg-type]
    b = add_kitchen(db, a.tenant_id)  # same tenant, another kitchen
    c = seed_kitchen(db)  # type: ignore[arg-type]  # another tenant
    groups = [clients_of(sync_stack, proxy, k) for k in (a, a, b, c)]
    try:
        a1, a2, board_b, board_c = (
            g.make(f"{configured.value}-{i}", feed=configured) for i, g in enumerate(groups)
        )
        boards = (a1, a2, board_b, board_c)
        await until(lambda: all(x.status.state is S.LIVE for x in boards), 15)
        assert {x.status.feed for x in boards} == {used}

        tid = add_task(db, a, title="Dice onions")  # type: ignore[arg-type]
        await until(lambda: a1.store.get(tid) is not None and a2.store.get(tid) is not None, 5)
        db.execute("update tasks set priority = 2 where id = %s", (tid,))
        db.execute("update staff set display_name = 'Sam Lee' where id = %s", (a.staff[0],))
        await until(
            lambda: (
                (t := a2.store.get(tid)) is not None
                and t.task.priority == 2
                and a2.store.view().staff_name(a.staff[0]) == "Sam Lee"
            ),
            5,
        )
        # One board's action reaches the other through the same feed.
        a1.store.enqueue(Action.CLAIM, tid, a.staff[0])
        await until(
            lambda: (t := a2.store.confirmed(tid)) is not None and t.status is Status.CLAIMED, 5
        )
        gone = add_task(db, a, title="Zest lemons")  # type: ignore[arg-type]
        await until(lambda: a2.store.get(gone) is not None, 5)
        db.execute("delete from tasks where id = %s", (gone,))
        await until(lambda: a2.store.get(gone) is None and a1.store.get(gone) is None, 5)

        # B and C hear their own kitchens (so their feeds are live and in order)...
        own_b = add_task(db, b, title="B's own")  # type: ignore[arg-type]
        own_c = add_task(db, c, title="C's own")  # type: ignore[arg-type]
        await until(
            lambda: board_b.store.get(own_b) is not None and board_c.store.get(own_c) is not None,
            5,
        )
        # ...and nothing of A's, committed before.
        assert titles(board_b) == {"B's own"} and titles(board_c) == {"C's own"}
        for other in (board_b, board_c):
            assert other.store.view().staff_name(a.staff[0]) is None
        assert titles(a1) == titles(a2) == {"Dice onions"}
        assert {x.status.feed for x in boards} == {used}
    finally:
        for g in groups:
            await g.close()


async def test_switching_feed_between_runs_misses_nothing(
    sync_stack: LocalStack,
    proxy: FaultProxy,
    kitchen: Kitchen,
    db: psycopg.Connection[Any],
    tmp_path: Path,
) -> None:
    """A board stopped on one feed and started on the other (a config change, or auto
    falling back) has every change made meanwhile, then hears the next ones."""
    path = tmp_path / "board.sqlite3"
    feeds = [Feed.BROADCAST, Feed.POSTGRES_CHANGES, Feed.BROADCAST]
    seen: list[str] = []
    group = clients_of(sync_stack, proxy, kitchen)
    try:
        for feed in feeds:
            store = BoardStore.open(path, SystemClock(), "switch")
            board = group.make("switch", store=store, feed=feed)
            await until(lambda b=board: b.status.state is S.LIVE, 15)
            assert board.status.feed is feed
            # What happened while it was stopped is there after the resync.
            assert all(board.store.get(t) is not None for t in seen), feed
            tid = add_task(db, kitchen, title=f"on {feed.value} {uuid.uuid4().hex[:6]}")
            await until(lambda b=board, t=tid: b.store.get(t) is not None, 5)
            await board.stop()
            await board.backend.aclose()
            board.store.close()
            group.engines.remove(board)
            # A change made while it is down.
            seen += [tid, add_task(db, kitchen, title="while down")]
    finally:
        await group.close()
