"""postgres_changes never answers a question about a row its subscriber may not read
(issue 10, items 3 and 4): filters on deleted rows of other tenants reveal nothing, and
RLS or privileges changed while the server runs apply to the next change."""

from __future__ import annotations

from typing import Any

from tests.pg import add_task, connect

from .conftest import Stack, wait_for
from .helpers import Recorder, subscribe_changes


def deletes(rec: Recorder) -> list[dict[str, Any]]:
    return [c["data"] for c in rec.changes if c["data"]["type"].value == "DELETE"]


async def test_delete_filters_on_other_tenants_rows_reveal_nothing(rts: Stack) -> None:
    stack = rts
    a, b = stack.seed(), stack.seed()
    secret = "Hughes wedding: lobster bisque"
    probes = [
        {"event": "DELETE", "table": "tasks", "filter": f"title=eq.{secret}"},
        {"event": "DELETE", "table": "tasks", "filter": "notes=lt.M"},
        {"event": "DELETE", "table": "tasks", "filter": "priority=gte.2"},
        {"event": "DELETE", "table": "tasks", "filter": f"tenant_id=eq.{a.tenant_id}"},
        {"event": "DELETE", "table": "tasks", "filter": f"kitchen_id=in.({a.kitchen_id})"},
    ]
    # The attacker: a display of tenant B. The sentinel is B's own insert (a barrier).
    spy = await subscribe_changes(
        stack,
        stack.device_token(b),
        topic="spy",
        bindings=[
            *probes,
            {"event": "INSERT", "table": "tasks", "filter": f"kitchen_id=eq.{b.kitchen_id}"},
        ],
    )
    # Only the anon key: it may not read tasks at all (its INSERTs are 401 error rows).
    anon = await subscribe_changes(
        stack, stack.anon, topic="anon", bindings=[*probes, {"event": "INSERT", "table": "tasks"}]
    )
    # Tenant A's own board (kitchen filter) and a title filter of A's: they could read
    # the row, so they hear of its deletion, as on hosted Supabase.
    own = await subscribe_changes(
        stack,
        stack.device_token(a),
        topic="own",
        bindings=[
            {"event": "DELETE", "table": "tasks", "filter": f"kitchen_id=eq.{a.kitchen_id}"},
            {"event": "DELETE", "table": "tasks", "filter": f"title=eq.{secret}"},
        ],
    )
    svc = await subscribe_changes(
        stack,
        stack.service_key,
        topic="svc",
        bindings=[{"event": "DELETE", "table": "tasks", "filter": "notes=lt.M"}],
    )
    try:
        with connect(stack.db_url) as conn:
            tid = add_task(conn, a, title=secret, notes="Lobster", priority=2)
            conn.execute("delete from tasks where id = %s", (tid,))
            add_task(conn, b, title="B's sentinel")
        await wait_for(lambda: deletes(own), what="A's board hears of the delete")
        await wait_for(lambda: deletes(svc), what="service_role hears of the delete")
        await wait_for(lambda: spy.of_type("INSERT"), what="B's sentinel")
        await wait_for(lambda: len(anon.of_type("INSERT")) >= 2, what="anon's error rows")
        assert deletes(spy) == []
        assert deletes(anon) == []
        # One frame naming both of A's bindings (realtime-py calls back once per binding).
        assert len({tuple(c["ids"]) for c in own.changes}) == 1
        assert len(own.changes[0]["ids"]) == 2
        assert all(d["old_record"] == {"id": tid} for d in deletes(own))  # RLS: the key only
        # service_role's filter saw the whole row; the payload is the key, as for all.
        assert deletes(svc)[0]["old_record"] == {"id": tid}
    finally:
        for r in (spy, anon, own, svc):
            await r.client.close()


async def test_a_delete_without_a_filter_gives_others_only_the_key(rts: Stack) -> None:
    stack = rts
    a, b = stack.seed(), stack.seed()
    other = await subscribe_changes(
        stack, stack.device_token(b), bindings=[{"event": "DELETE", "table": "tasks"}]
    )
    try:
        with connect(stack.db_url) as conn:
            tid = add_task(conn, a, title="Not yours")
            conn.execute("delete from tasks where id = %s", (tid,))
        await wait_for(lambda: deletes(other), what="the delete")
        assert deletes(other)[0]["old_record"] == {"id": tid}
    finally:
        await other.client.close()


async def test_rls_and_privileges_changed_while_running_apply_at_once(rts: Stack) -> None:
    stack = rts
    with connect(stack.db_url) as conn:
        conn.execute(
            "create table public.rt_flag (id int primary key, secret text);"
            "alter table public.rt_flag replica identity full;"
            "grant select on public.rt_flag to anon;"
            "alter publication supabase_realtime add table public.rt_flag"
        )
    anon = await subscribe_changes(stack, stack.anon, bindings=[{"event": "*", "table": "rt_flag"}])
    probe = await subscribe_changes(
        stack,
        stack.anon,
        topic="probe",
        bindings=[{"event": "INSERT", "table": "rt_flag", "filter": "secret=eq.b"}],
    )
    svc = await subscribe_changes(
        stack, stack.service_key, topic="svc", bindings=[{"event": "*", "table": "rt_flag"}]
    )

    async def step(sql: str, n_svc: int) -> None:
        with connect(stack.db_url) as conn:
            conn.execute(sql)
        await wait_for(lambda: len(svc.changes) >= n_svc, what=sql)

    try:
        await step("insert into rt_flag values (1, 'a')", 1)
        await wait_for(lambda: anon.changes, what="anon reads rt_flag without RLS")
        assert anon.changes[-1]["data"]["record"] == {"id": 1, "secret": "a"}

        # RLS on, no policy: anon may read nothing; a delete gives the key only.
        await step("alter table rt_flag enable row level security", 1)
        await step("insert into rt_flag values (2, 'b')", 2)
        await step("delete from rt_flag where id = 1", 3)
        await wait_for(lambda: len(anon.changes) >= 2, what="the delete")
        assert [c["data"]["type"].value for c in anon.changes] == ["INSERT", "DELETE"]
        assert anon.changes[-1]["data"]["old_record"] == {"id": 1}
        assert probe.changes == []

        # RLS off again: whole rows, whole deleted rows.
        await step("alter table rt_flag disable row level security", 3)
        await step("insert into rt_flag values (3, 'c')", 4)
        await step("delete from rt_flag where id = 3", 5)
        await wait_for(lambda: len(anon.changes) >= 4, what="rows after RLS is off")
        assert anon.changes[2]["data"]["record"] == {"id": 3, "secret": "c"}
        assert anon.changes[3]["data"]["old_record"] == {"id": 3, "secret": "c"}

        # A revoked column stops being sent, and a filter on it stops matching.
        await step("revoke select on rt_flag from anon; grant select (id) on rt_flag to anon", 5)
        await step("insert into rt_flag values (4, 'b')", 6)
        await wait_for(lambda: len(anon.changes) >= 5, what="the row without its secret")
        assert anon.changes[4]["data"]["record"] == {"id": 4}
        assert probe.changes == []
    finally:
        for r in (anon, probe, svc):
            await r.client.close()
