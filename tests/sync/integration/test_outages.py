"""Outages through the fault proxy: actions taken offline reach the server exactly once,
the other display converges, states pass in order, a half-open link is detected."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from caterking_display.domain.actions import Action
from caterking_display.domain.sync_status import ConnectionState as S
from caterking_display.domain.sync_status import Feed
from caterking_display.domain.task import Status
from caterking_server.stack import LocalStack
from tests.faultproxy import FaultProxy
from tests.pg import Kitchen, add_task
from tests.sync.integration.conftest import Clients
from tests.waiting import until


def both_live(*engines: Any) -> bool:
    return all(e.status.state is S.LIVE for e in engines)


async def test_actions_during_an_outage_reach_the_server_exactly_once(
    clients: Clients,
    kitchen: Kitchen,
    db: psycopg.Connection[Any],
    proxy: FaultProxy,
    sync_stack: LocalStack,
) -> None:
    t1 = add_task(db, kitchen, title="Peel carrots")
    t2 = add_task(db, kitchen, title="Zest lemons")
    a = clients.make("pass-a", offline_after_attempts=3)  # through the proxy
    b = clients.make("pass-b", url=sync_stack.url)  # direct
    await until(lambda: both_live(a, b), 10)
    states: list[S] = []
    live_at: list[float] = []

    def watch(st: Any) -> None:
        if not states or states[-1] != st.state:
            states.append(st.state)
            if st.state is S.LIVE:
                live_at.append(time.monotonic())

    a.on_status(watch)

    await proxy.refuse(True)  # the kitchen Wi-Fi drops
    await until(lambda: a.status.state is not S.LIVE, 5)
    chef = kitchen.staff[0]
    a.store.enqueue(Action.CLAIM, t1, chef)
    a.store.enqueue(Action.COMPLETE, t1, chef)
    a.store.enqueue(Action.CLAIM, t2, chef)
    await until(lambda: a.status.state is S.OFFLINE, 10)
    st = a.status
    assert st.pending_count == 3 and st.oldest_pending_at is not None
    assert st.last_error and st.attempt >= 3 and st.next_retry_at is not None
    assert a.store.view().tasks[t1].task.status is Status.DONE  # shown at once, pending
    assert a.store.view().tasks[t1].pending
    row = db.execute("select status, version from tasks where id = %s", (t1,)).fetchone()
    assert row == {"status": "pending", "version": 1}

    await proxy.heal()
    await until(lambda: b.store.view().tasks[t1].task.status is Status.DONE, 10)
    await until(lambda: b.store.view().tasks[t2].task.status is Status.CLAIMED, 2)
    converged_at = time.monotonic()
    await until(lambda: a.status.state is S.LIVE and a.status.pending_count == 0, 5)
    ops = db.execute(
        "select task_id, action, outcome from task_ops where task_id in (%s, %s) "
        "order by created_at",
        (t1, t2),
    ).fetchall()
    assert [(str(o["task_id"]), o["action"], o["outcome"]) for o in ops] == [
        (t1, "claim", "applied"),
        (t1, "complete", "applied"),
        (t2, "claim", "applied"),
    ]
    v = db.execute("select version from tasks where id = %s", (t1,)).fetchone()
    assert v == {"version": 3}
    assert states[:1] == [S.RECONNECTING] and states[-1] is S.LIVE and S.OFFLINE in states
    # B converged within 2 s of A's link being back.
    assert live_at and converged_at - live_at[-1] < 2.0


async def test_a_lost_reply_is_retried_with_the_same_op_id_and_applies_once(
    clients: Clients, kitchen: Kitchen, db: psycopg.Connection[Any], proxy: FaultProxy
) -> None:
    tid = add_task(db, kitchen, title="Pick herbs")
    a = clients.make("pass-a", rpc_timeout=1.0, heartbeat_interval=30.0)
    await until(lambda: a.status.state is S.LIVE, 10)
    proxy.latency(1.5)  # requests arrive; replies come after the client gave up
    op = a.store.enqueue(Action.CLAIM, tid, kitchen.staff[1])
    await until(
        lambda: (
            db.execute("select count(*) n from task_ops where op_id = %s", (op.op_id,)).fetchone()[
                "n"
            ]  # type: ignore[index]
            == 1
        ),
        5,
    )
    await until(lambda: (a.store.pending_ops() or [op])[0].attempts >= 1, 5)
    proxy.latency(0)
    await until(lambda: not a.store.pending_ops(), 10)
    rows = db.execute("select outcome from task_ops where task_id = %s", (tid,)).fetchall()
    assert rows == [{"outcome": "applied"}]
    assert a.store.view().tasks[tid].task.claimed_by == kitchen.staff[1]
    assert a.outbox.sent >= 2  # it really was sent again, and answered 'duplicate'


async def test_a_silently_dropping_link_is_detected_within_15_seconds(
    clients: Clients, proxy: FaultProxy
) -> None:
    a = clients.make("pass-a", heartbeat_interval=5.0)  # the default interval
    await until(lambda: a.status.state is S.LIVE, 10)
    proxy.blackhole(True)
    t0 = time.monotonic()
    await until(lambda: a.status.state is not S.LIVE, 16)
    assert time.monotonic() - t0 <= 15
    assert "heartbeat" in (a.status.last_error or "")
    await proxy.heal()
    await until(lambda: a.status.state is S.LIVE, 10)


async def test_malformed_and_unexpected_server_messages_are_ignored(
    clients: Clients, kitchen: Kitchen, db: psycopg.Connection[Any], proxy: FaultProxy
) -> None:
    a = clients.make("pass-a", feed=Feed.POSTGRES_CHANGES)  # injects postgres_changes frames
    await until(lambda: a.status.state is S.LIVE, 10)
    link = a.supervisor.link
    assert link is not None
    topic = f"realtime:kitchen:{kitchen.kitchen_id}"
    ids = [cb.id for cb in link._channel.postgres_changes_callbacks]  # type: ignore[attr-defined]

    def pg(record: dict[str, Any] | None, table: str = "tasks", typ: str = "UPDATE") -> str:
        import json

        data: dict[str, Any] = {
            "schema": "public",
            "table": table,
            "commit_timestamp": "2026-01-01T00:00:00.000Z",
            "type": typ,
            "errors": None,
            "columns": [],
        }
        if record is not None:
            data["record"] = record
        return json.dumps(
            {
                "topic": topic,
                "event": "postgres_changes",
                "ref": None,
                "payload": {"ids": ids, "data": data},
            }
        )

    def frame(event: str, payload: dict[str, Any], t: str = topic) -> str:
        import json

        return json.dumps({"topic": t, "event": event, "payload": payload, "ref": None})

    frames = [
        "not json at all",
        frame("mystery", {}, "phoenix"),
        frame("brand_new_event", {}),
        pg({"id": "not-a-uuid", "version": "seven"}),
        pg({"id": kitchen.kitchen_id}, table="ovens"),
        pg(None, typ="INSERT"),
        # A presence meta without phx_ref kills realtime-py's listener if unguarded.
        frame("presence_diff", {"joins": {"x": {"metas": [{"device": "ghost"}]}}, "leaves": {}}),
        frame(
            "broadcast",
            {"type": "broadcast", "event": "announcement", "payload": {"message": 42}},
        ),
    ]
    # A valid announcement last: once it shows, every junk frame before it was handled.
    frames.append(
        frame(
            "broadcast",
            {"type": "broadcast", "event": "announcement", "payload": {"message": "after junk"}},
        )
    )
    for f in frames:
        assert proxy.inject_ws_text(f) == 1
    await until(lambda: a.status.announcement == "after junk", 5)
    assert a.status.state is S.LIVE and a.supervisor.links_opened == 1
    tid = add_task(db, kitchen, title="Still listening")  # the listener is still alive
    await until(lambda: tid in a.store.view().tasks, 2)
    assert a.supervisor.links_opened == 1
