"""postgres_changes through the official realtime-py client (docs/kitchen-server.md)."""

from __future__ import annotations

import re

from tests.pg import add_task, connect

from .conftest import Stack, wait_for
from .helpers import subscribe_changes


async def test_insert_update_delete_without_filter(rts: Stack) -> None:
    stack = rts
    k = stack.seed()
    rec = await subscribe_changes(stack, stack.service_key)
    try:
        with connect(stack.db_url) as conn:
            tid = add_task(conn, k, title="Roast beef", quantity=2.5, priority=1)
            conn.execute("update tasks set status = 'cancelled' where id = %s", (tid,))
            conn.execute("delete from tasks where id = %s", (tid,))
        await wait_for(lambda: len(rec.changes) >= 3, what="three changes")
        ins, upd, dele = (c["data"] for c in rec.changes[:3])
        assert [ins["type"].value, upd["type"].value, dele["type"].value] == [
            "INSERT",
            "UPDATE",
            "DELETE",
        ]
        assert ins["schema"] == "public" and ins["table"] == "tasks"
        assert ins["record"]["id"] == tid
        assert ins["record"]["quantity"] == 2.5
        assert ins["record"]["priority"] == 1
        assert ins["record"]["version"] == 1
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ins["commit_timestamp"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT.*\+00:00", ins["record"]["created_at"])
        cols = {c["name"]: c["type"] for c in ins["columns"]}
        assert (
            cols["id"] == "uuid" and cols["priority"] == "int2" and cols["due_at"] == "timestamptz"
        )
        assert upd["record"]["status"] == "cancelled"
        assert upd["old_record"]["status"] == "pending"  # replica identity full
        assert dele["old_record"]["id"] == tid
        assert all(c["ids"] and c["ids"][0] >= 1 for c in rec.changes)
    finally:
        await rec.client.close()


async def test_event_filter_and_commit_order(rts: Stack) -> None:
    stack = rts
    k = stack.seed()
    rec = await subscribe_changes(
        stack, stack.service_key, bindings=[{"event": "UPDATE", "table": "tasks"}]
    )
    try:
        with connect(stack.db_url) as conn:
            tid = add_task(conn, k)
            for n in range(5):
                conn.execute("update tasks set notes = %s where id = %s", (str(n), tid))
        await wait_for(lambda: len(rec.changes) >= 5, what="five updates")
        assert [c["data"]["record"]["notes"] for c in rec.changes] == ["0", "1", "2", "3", "4"]
        assert not rec.of_type("INSERT")
    finally:
        await rec.client.close()


async def test_filter_moving_in_and_out(rts: Stack) -> None:
    stack = rts
    k = stack.seed()
    other = stack.seed()
    rec = await subscribe_changes(
        stack,
        stack.service_key,
        bindings=[{"event": "*", "table": "tasks", "filter": f"kitchen_id=eq.{k.kitchen_id}"}],
    )
    try:
        with connect(stack.db_url) as conn:
            mine = add_task(conn, k, title="mine")
            theirs = add_task(conn, other, title="theirs")
            conn.execute("update tasks set title = 'theirs 2' where id = %s", (theirs,))
            # Priority filter via a second subscriber: moving in is delivered, out is not.
            conn.execute("update tasks set title = 'mine 2' where id = %s", (mine,))
            conn.execute("delete from tasks where id = %s", (mine,))
        await wait_for(lambda: len(rec.changes) >= 3, what="own kitchen's changes")
        assert [c["data"]["type"].value for c in rec.changes] == ["INSERT", "UPDATE", "DELETE"]
        assert all(
            (c["data"].get("record") or c["data"]["old_record"])["id"] == mine for c in rec.changes
        )
    finally:
        await rec.client.close()


async def test_filter_ops_move_in_out(rts: Stack) -> None:
    stack = rts
    k = stack.seed()
    rec = await subscribe_changes(
        stack,
        stack.service_key,
        bindings=[
            {"event": "UPDATE", "table": "tasks", "filter": "priority=gte.1"},
            {"event": "INSERT", "table": "tasks", "filter": "status=in.(pending,claimed)"},
        ],
    )
    try:
        with connect(stack.db_url) as conn:
            tid = add_task(conn, k, priority=0)  # INSERT matches binding 2
            conn.execute("update tasks set priority = 2 where id = %s", (tid,))  # moves in
            conn.execute("update tasks set priority = 0 where id = %s", (tid,))  # moves out
            conn.execute("update tasks set priority = 1 where id = %s", (tid,))  # in again
            add_task(conn, k, status="cancelled")  # INSERT not matching
        await wait_for(lambda: len(rec.changes) >= 3, what="matching changes")
        got = [(c["data"]["type"].value, c["data"]["record"]["priority"]) for c in rec.changes]
        assert got[:3] == [("INSERT", 0), ("UPDATE", 2), ("UPDATE", 1)]
        ids = {tuple(c["ids"]) for c in rec.changes}
        assert len(ids) == 2
    finally:
        await rec.client.close()


async def test_rls_tenant_isolation_with_and_without_filter(rts: Stack) -> None:
    stack = rts
    a = stack.seed()
    b = stack.seed()
    rec_a = await subscribe_changes(stack, stack.device_token(a))
    rec_b = await subscribe_changes(stack, stack.device_token(b), topic="board-b")
    rec_bf = await subscribe_changes(
        stack,
        stack.device_token(b),
        topic="board-bf",
        bindings=[{"event": "*", "table": "tasks", "filter": f"kitchen_id=eq.{a.kitchen_id}"}],
    )
    try:
        with connect(stack.db_url) as conn:
            ta = add_task(conn, a, title="A secret")
            conn.execute("update tasks set title = 'A secret 2' where id = %s", (ta,))
            tb = add_task(conn, b, title="B task")
        await wait_for(lambda: len(rec_a.changes) >= 2, what="tenant A changes")
        await wait_for(lambda: len(rec_b.changes) >= 1, what="tenant B change")
        # B's change arrived after A's, so A's would have too if it were going to.
        assert [c["data"]["record"]["id"] for c in rec_b.changes] == [tb]
        assert rec_bf.changes == []
        assert {c["data"]["record"]["id"] for c in rec_a.changes} == {ta}
    finally:
        for r in (rec_a, rec_b, rec_bf):
            await r.client.close()


async def test_unknown_table_and_bad_filter_system_errors(rts: Stack) -> None:
    stack = rts
    from realtime import AsyncRealtimeClient

    client = AsyncRealtimeClient(stack.ws_url, stack.service_key, auto_reconnect=False)
    await client.connect()
    try:
        errors: list[str] = []
        for topic, binding in (
            ("t1", {"table": "task_ops"}),
            ("t2", {"table": "tasks", "filter": "title=like.%x%"}),
            ("t3", {"table": "tasks", "filter": "nope=eq.1"}),
        ):
            ch = client.channel(topic)
            ch.on_postgres_changes("*", lambda p: None, **binding)
            await ch.subscribe(lambda s, e, errors=errors: errors.append(str(e)) if e else None)
        await wait_for(lambda: len(errors) >= 3, what="three system errors")
        text = "\n".join(errors)
        assert "Unable to subscribe to changes with given parameters" in text
        assert "table: task_ops" in text
        assert "Error parsing `filter` params" in text
        assert "invalid column for filter nope" in text
    finally:
        await client.close()
