"""Two displays on the real stack: both see every change; simultaneous claims resolve
to one winner, and the loser is told who won."""

from __future__ import annotations

from typing import Any

import psycopg

from caterking_display.domain.actions import Action
from caterking_display.domain.board import Notice, NoticeKind
from caterking_display.domain.sync_status import ConnectionState as S
from caterking_display.domain.task import Status
from tests.pg import Kitchen, add_task
from tests.sync.integration.conftest import Clients
from tests.waiting import until


async def test_simultaneous_claims_one_wins_the_other_reverts_and_is_told(
    clients: Clients, kitchen: Kitchen, db: psycopg.Connection[Any]
) -> None:
    tid = add_task(db, kitchen, title="Dice onions")
    a = clients.make("pass-a")
    b = clients.make("pass-b")
    await until(lambda: a.status.state is S.LIVE and b.status.state is S.LIVE, 10)
    assert tid in a.store.view().tasks and tid in b.store.view().tasks
    notices: list[Notice] = []
    b.store.notices_subscribe(notices.append)
    a_notices: list[Notice] = []
    a.store.notices_subscribe(a_notices.append)

    chef_a, chef_b = kitchen.staff[0], kitchen.staff[1]
    a.store.enqueue(Action.CLAIM, tid, chef_a)
    b.store.enqueue(Action.CLAIM, tid, chef_b)
    # Both show their own claim at once (optimistic).
    assert a.store.view().tasks[tid].task.claimed_by == chef_a
    assert b.store.view().tasks[tid].task.claimed_by == chef_b

    await until(lambda: not a.store.pending_ops() and not b.store.pending_ops(), 5)
    row = db.execute("select claimed_by, version from tasks where id = %s", (tid,)).fetchone()
    assert row is not None
    winner = str(row["claimed_by"])
    assert winner in (chef_a, chef_b)
    await until(
        lambda: all(
            e.store.view().tasks[tid].task.claimed_by == winner
            and not e.store.view().tasks[tid].pending
            for e in (a, b)
        ),
        2,
    )
    loser_notices = notices if winner == chef_a else a_notices
    assert len(loser_notices) == 1 and loser_notices[0].kind is NoticeKind.CONFLICT
    won_facts = loser_notices[0].winner
    assert won_facts is not None and won_facts.staff_id == winner
    assert won_facts.staff_name in ("Chef 0", "Chef 1")
    # The loser's "not applied" list keeps it, for a chef who was not looking.
    loser, won = (b, a) if winner == chef_a else (a, b)
    [kept] = loser.store.failed_actions()
    assert kept.outcome == "conflict" and kept.task_title == "Dice onions"
    assert kept.winner == won_facts
    assert won.store.failed_actions() == []
    ops = db.execute("select outcome from task_ops where task_id = %s", (tid,)).fetchall()
    assert sorted(o["outcome"] for o in ops) == ["applied", "conflict"]


async def test_every_change_reaches_the_other_display(
    clients: Clients, kitchen: Kitchen, db: psycopg.Connection[Any]
) -> None:
    a = clients.make("pass-a")
    b = clients.make("pass-b")
    await until(lambda: a.status.state is S.LIVE and b.status.state is S.LIVE, 10)
    await until(lambda: a.status.devices_online == 2 and b.status.devices_online == 2, 5)
    tid = add_task(db, kitchen, title="Roast squash")  # Admin adds a task
    await until(lambda: tid in a.store.view().tasks and tid in b.store.view().tasks, 2)
    a.store.enqueue(Action.CLAIM, tid, kitchen.staff[0])
    await until(lambda: b.store.view().tasks[tid].task.status is Status.CLAIMED, 2)
    b.store.enqueue(Action.COMPLETE, tid, kitchen.staff[0])
    await until(lambda: a.store.view().tasks[tid].task.status is Status.DONE, 2)
    gone = add_task(db, kitchen, title="Mistake")
    await until(lambda: gone in a.store.view().tasks and gone in b.store.view().tasks, 2)
    db.execute("delete from tasks where id = %s", (gone,))
    await until(lambda: gone not in a.store.view().tasks and gone not in b.store.view().tasks, 2)
