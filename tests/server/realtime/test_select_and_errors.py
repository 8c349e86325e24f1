"""postgres_changes `select`, oversized rows and error rows through realtime-py
(docs/kitchen-server.md, "postgres_changes")."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from realtime import AsyncRealtimeClient

from tests.pg import add_task, connect

from .conftest import Stack, start_stack, stop_stack, wait_for
from .helpers import subscribe_changes
from .wsclient import RawClient

MAX_RECORD_BYTES = 2000


@pytest.fixture
async def gaps(db_url: str) -> AsyncIterator[Stack]:
    """A stack with a small max_record_bytes, over throwaway published tables: one whose
    primary key `authenticated` may not read, one without a primary key."""
    with connect(db_url) as conn:
        conn.execute(
            "create table public.rt_secret (id int primary key, code text, note text);"
            "revoke all on public.rt_secret from anon, authenticated;"  # default privileges
            "grant select (note) on public.rt_secret to authenticated;"
            "create table public.rt_nopk (note text);"
            "grant select, insert on public.rt_nopk to authenticated;"
            "alter publication supabase_realtime add table public.rt_secret, public.rt_nopk"
        )
    st, runner = await start_stack(db_url, max_record_bytes=MAX_RECORD_BYTES)
    try:
        yield st
    finally:
        await stop_stack(st, runner)


async def test_select_trims_record_old_record_and_columns(gaps: Stack) -> None:
    stack = gaps
    k = stack.seed()
    select = ["status", "title"]
    rec = await subscribe_changes(
        stack,
        stack.service_key,
        bindings=[
            # The filter's column need not be selected; the primary key is always kept.
            {
                "event": "*",
                "table": "tasks",
                "filter": f"kitchen_id=eq.{k.kitchen_id}",
                "select": select,
            },
            {"event": "INSERT", "table": "tasks"},  # full rows, same channel
        ],
    )
    try:
        with connect(stack.db_url) as conn:
            tid = add_task(conn, k, title="Roast beef", notes="n" * 10)
            conn.execute("update tasks set status = 'cancelled' where id = %s", (tid,))
            conn.execute("delete from tasks where id = %s", (tid,))
        await wait_for(lambda: len(rec.changes) >= 4, what="four changes")
        trimmed = [c["data"] for c in rec.changes if len(c["data"]["columns"]) == 3]
        full = [c["data"] for c in rec.changes if len(c["data"]["columns"]) > 3]
        assert [d["type"].value for d in trimmed] == ["INSERT", "UPDATE", "DELETE"]
        ins, upd, dele = trimmed
        # Columns in attnum order: id, title, status.
        assert [c["name"] for c in ins["columns"]] == ["id", "title", "status"]
        assert ins["record"] == {"id": tid, "title": "Roast beef", "status": "pending"}
        assert upd["record"] == {"id": tid, "title": "Roast beef", "status": "cancelled"}
        assert upd["old_record"] == {"id": tid, "title": "Roast beef", "status": "pending"}
        # tasks has RLS: a DELETE's old_record is trimmed to the primary key (as hosted).
        assert dele["old_record"] == {"id": tid}
        assert all(d["errors"] is None for d in trimmed)
        # The unselected binding still gets whole rows, in a frame of its own.
        assert len(full) == 1 and full[0]["record"]["notes"] == "n" * 10
    finally:
        await rec.client.close()


async def test_select_errors_wildcard_and_unknown_column(gaps: Stack) -> None:
    stack = gaps
    client = AsyncRealtimeClient(stack.ws_url, stack.service_key, auto_reconnect=False)
    await client.connect()
    try:
        errors: list[str] = []
        for topic, binding in (
            ("w1", {"select": ["id"]}),  # table omitted: every published table
            ("w2", {"table": "tasks", "select": ["id", "nope"]}),
        ):
            ch = client.channel(topic)
            ch.on_postgres_changes("*", lambda p: None, **binding)
            await ch.subscribe(lambda s, e, errors=errors: errors.append(str(e)) if e else None)
        await wait_for(lambda: len(errors) >= 2, what="two system errors")
        text = "\n".join(errors)
        assert "not allowed with wildcards" in text
        assert "invalid column for select nope" in text
    finally:
        await client.close()


async def test_oversized_row_keeps_small_values_with_413(gaps: Stack) -> None:
    stack = gaps
    k = stack.seed()
    rec = await subscribe_changes(stack, stack.service_key)
    try:
        with connect(stack.db_url) as conn:
            tid = add_task(conn, k, title="Big", notes="x" * (MAX_RECORD_BYTES + 1))
            conn.execute("update tasks set title = 'Big 2' where id = %s", (tid,))
            small = add_task(conn, k, title="Small", notes="y" * 100)
        await wait_for(lambda: len(rec.changes) >= 3, what="three changes")
        ins, upd, ok = (c["data"] for c in rec.changes[:3])
        for d in (ins, upd):
            assert d["errors"] == ["Error 413: Payload Too Large"]
            assert d["columns"] and d["commit_timestamp"]
            assert "notes" not in d["record"]
            assert d["record"]["id"] == tid and d["record"]["priority"] == 0
            assert "claimed_by" not in d["record"]  # NULL fails octet_length <= 64 too
        assert ins["record"]["title"] == "Big"
        assert upd["record"]["title"] == "Big 2"
        assert upd["old_record"]["title"] == "Big" and "notes" not in upd["old_record"]
        assert ok["errors"] is None and ok["record"]["id"] == small
        assert ok["record"]["notes"] == "y" * 100
    finally:
        await rec.client.close()


async def test_pk_not_readable_401_and_no_pk_400(gaps: Stack) -> None:
    stack = gaps
    k = stack.seed()
    token = stack.device_token(k)  # role authenticated: may read rt_secret.note only
    rec_auth = await subscribe_changes(
        stack,
        token,
        bindings=[
            {"event": "*", "table": "rt_secret", "filter": "note=eq.nothing-matches"},
            {"event": "INSERT", "table": "rt_nopk"},
        ],
    )
    rec_svc = await subscribe_changes(
        stack,
        stack.service_key,
        topic="svc",
        bindings=[{"event": "*", "table": "rt_secret"}, {"event": "*", "table": "rt_nopk"}],
    )
    try:
        with connect(stack.db_url) as conn:
            conn.execute("insert into rt_secret values (1, 's3cret', 'hello')")
            conn.execute("update rt_secret set note = 'bye' where id = 1")
            conn.execute("insert into rt_nopk values ('orphan')")
        await wait_for(lambda: len(rec_auth.changes) >= 3, what="three error rows")
        await wait_for(lambda: len(rec_svc.changes) >= 3, what="service rows")
        ins, upd, nopk = (c["data"] for c in rec_auth.changes[:3])
        for d in (ins, upd):
            assert d["table"] == "rt_secret"
            assert d["errors"] == ["Error 401: Unauthorized"]
            assert d["record"] == {} and d["columns"] == []
            assert "s3cret" not in repr(d) and "hello" not in repr(d)
        assert ins["type"].value == "INSERT" and upd["type"].value == "UPDATE"
        assert upd["old_record"] == {}
        assert nopk["table"] == "rt_nopk" and nopk["type"].value == "INSERT"
        assert nopk["errors"] == ["Error 400: Bad Request, no primary key"]
        assert nopk["record"] == {}
        # service_role reads rt_secret whole; a table without a primary key is a 400 for all.
        s_ins, s_upd, s_nopk = (c["data"] for c in rec_svc.changes[:3])
        assert s_ins["errors"] is None
        assert s_ins["record"] == {"id": 1, "code": "s3cret", "note": "hello"}
        assert s_upd["record"]["note"] == "bye"
        assert s_nopk["errors"] == ["Error 400: Bad Request, no primary key"]
    finally:
        for r in (rec_auth, rec_svc):
            await r.client.close()


async def test_join_reply_echoes_select_verbatim(gaps: Stack) -> None:
    """realtime-py matches the reply by index; supabase-js too. `select` is echoed as sent
    and is part of the binding's identity (its own id)."""
    stack = gaps
    c = await RawClient.connect(stack.ws_url, stack.service_key)
    try:
        bindings = [
            {"event": "*", "schema": "public", "table": "tasks", "select": ["title", "id"]},
            {"event": "*", "schema": "public", "table": "tasks"},
        ]
        ref = await c.join("realtime:sel", {"postgres_changes": bindings})
        rep = await c.recv_until(lambda f: f.get("event") == "phx_reply" and f.get("ref") == ref)
        got = rep["payload"]["response"]["postgres_changes"]
        assert [{k: v for k, v in b.items() if k != "id"} for b in got] == bindings
        assert got[0]["id"] != got[1]["id"]
        sysmsg = await c.recv_until(lambda f: f.get("event") == "system")
        assert sysmsg["payload"]["status"] == "ok"
    finally:
        await c.close()
