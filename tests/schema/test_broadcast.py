"""Broadcast from the database (migration 0007): every change of a task, a chef or a
learned estimate is written once into realtime.messages for its kitchen's private topic,
in the shape of Supabase's realtime.broadcast_changes, trimmed to what boards read; and a
display can send itself a probe. Another kitchen's or tenant's topic never gets it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.pg import ANON, SERVICE, Kitchen, add_task, as_claims, call, device_claims, seed_kitchen
from tests.schema.test_kitchen_scope import add_kitchen


def messages(
    conn: Any, kitchen_id: str | None = None, table: str | None = None
) -> list[dict[str, Any]]:
    """The broadcast rows (oldest first), for one kitchen's topic or all, of one table's
    changes or all."""
    sql = (
        "select id, topic, event, payload, private, extension from realtime.messages "
        "where extension = 'broadcast'"
    )
    args: list[Any] = []
    if kitchen_id is not None:
        sql += " and topic = %s"
        args.append(f"kitchen:{kitchen_id}")
    if table is not None:
        sql += " and payload ->> 'table' = %s"
        args.append(table)
    return list(conn.execute(sql + " order by inserted_at, ctid", args).fetchall())


def clear(conn: Any) -> None:
    conn.execute("delete from realtime.messages")


def row_json(conn: Any, table: str, key: str, value: str) -> dict[str, Any]:
    row = conn.execute(
        f"select to_jsonb(t) as j from public.{table} t where {key} = %s", (value,)
    ).fetchone()
    assert row is not None
    result: dict[str, Any] = row["j"]
    return result


@pytest.fixture
def world(conn: Any) -> tuple[Kitchen, Kitchen, Kitchen]:
    """Kitchens A and B of one tenant, and C of another; no messages yet."""
    a = seed_kitchen(conn)
    b = add_kitchen(conn, a.tenant_id)
    c = seed_kitchen(conn)
    clear(conn)
    return a, b, c


def only(
    conn: Any, k: Kitchen, others: list[Kitchen], table: str | None = None
) -> list[dict[str, Any]]:
    """The messages (of one table's changes, or all), after checking that they all went
    to k's topic and none elsewhere."""
    mine = messages(conn, k.kitchen_id, table)
    for o in others:
        assert messages(conn, o.kitchen_id, table) == []
    assert len(messages(conn, None, table)) == len(mine)
    return mine


def check_envelope(m: dict[str, Any], k: Kitchen, event: str, table: str) -> dict[str, Any]:
    assert m["topic"] == f"kitchen:{k.kitchen_id}"
    assert m["event"] == event
    assert m["private"] is True
    assert m["extension"] == "broadcast"
    p: dict[str, Any] = m["payload"]
    assert set(p) == {"operation", "schema", "table", "record", "old_record", "id"}
    assert p["operation"] == event and p["schema"] == "public" and p["table"] == table
    assert p["id"] == str(m["id"])  # realtime.send adds the message id, as hosted
    return p


def test_task_insert_update_delete(conn: Any, world: tuple[Kitchen, Kitchen, Kitchen]) -> None:
    a, b, c = world
    tid = add_task(conn, a, title="Dice onions", notes="fine", allergens=["celery"])
    [m] = only(conn, a, [b, c], "tasks")
    p = check_envelope(m, a, "INSERT", "tasks")
    assert p["record"] == row_json(conn, "tasks", "id", tid)  # the whole row: boards read all
    assert p["old_record"] is None

    clear(conn)
    me = device_claims(a.tenant_id, a.kitchen_id)
    assert call(conn, me, "claim_task", tid, a.staff[0])["outcome"] == "applied"
    [m] = only(conn, a, [b, c], "tasks")
    p = check_envelope(m, a, "UPDATE", "tasks")
    assert p["record"] == row_json(conn, "tasks", "id", tid)
    assert p["record"]["status"] == "claimed" and p["record"]["version"] == 2
    assert p["old_record"] == {"id": tid, "kitchen_id": a.kitchen_id}

    clear(conn)
    conn.execute("delete from task_ops where task_id = %s", (tid,))
    conn.execute("delete from tasks where id = %s", (tid,))
    [m] = only(conn, a, [b, c], "tasks")
    p = check_envelope(m, a, "DELETE", "tasks")
    assert p["record"] is None
    assert p["old_record"] == {"id": tid, "kitchen_id": a.kitchen_id}


def test_an_update_that_changes_nothing_sends_nothing(
    conn: Any, world: tuple[Kitchen, Kitchen, Kitchen]
) -> None:
    a, _b, _c = world
    tid = add_task(conn, a)
    clear(conn)
    conn.execute("update tasks set title = title where id = %s", (tid,))
    conn.execute("update staff set active = true where kitchen_id = %s", (a.kitchen_id,))
    assert messages(conn) == []


def test_a_conflict_or_a_rolled_back_change_sends_nothing(
    conn: Any, world: tuple[Kitchen, Kitchen, Kitchen]
) -> None:
    a, _b, _c = world
    tid = add_task(conn, a)
    me = device_claims(a.tenant_id, a.kitchen_id)
    call(conn, me, "claim_task", tid, a.staff[0])
    clear(conn)
    assert call(conn, me, "claim_task", tid, a.staff[1])["outcome"] == "conflict"
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("update tasks set allergens = '{celeri}' where id = %s", (tid,))
    assert messages(conn) == []


def test_staff_changes_reach_their_kitchen_only(
    conn: Any, world: tuple[Kitchen, Kitchen, Kitchen]
) -> None:
    a, b, c = world
    sid = str(uuid.uuid4())
    conn.execute(
        "insert into staff (id, tenant_id, kitchen_id, display_name, initials) "
        "values (%s, %s, %s, 'Sam Lee', 'SL')",
        (sid, b.tenant_id, b.kitchen_id),
    )
    [m] = only(conn, b, [a, c])
    p = check_envelope(m, b, "INSERT", "staff")
    full = row_json(conn, "staff", "id", sid)
    assert "created_at" in full
    assert p["record"] == {k: v for k, v in full.items() if k != "created_at"}
    assert set(p["record"]) == {
        "id",
        "tenant_id",
        "kitchen_id",
        "display_name",
        "initials",
        "active",
    }

    clear(conn)
    conn.execute("update staff set active = false where id = %s", (sid,))
    [m] = only(conn, b, [a, c])
    p = check_envelope(m, b, "UPDATE", "staff")
    assert p["record"]["active"] is False
    assert p["old_record"] == {"id": sid, "kitchen_id": b.kitchen_id}


def estimate(conn: Any, tenant_id: str, **cols: Any) -> None:
    row = {
        "tenant_id": tenant_id,
        "task_key": "dice onion",
        "station": "Prep",
        "p50_minutes": 12,
        "p90_minutes": 20,
        "samples": 5,
        "basis": "exact",
    }
    row.update(cols)
    names = ", ".join(row)
    marks = ", ".join(["%s"] * len(row))
    conn.execute(f"insert into prep_estimates ({names}) values ({marks})", tuple(row.values()))


def test_estimates_reach_every_kitchen_of_their_tenant_only(
    conn: Any, world: tuple[Kitchen, Kitchen, Kitchen]
) -> None:
    a, b, c = world
    estimate(conn, a.tenant_id, unit="kg", p50_setup_minutes=2, p50_minutes_per_unit=3)
    assert messages(conn, c.kitchen_id) == []
    key = {"tenant_id": a.tenant_id, "task_key": "dice onion", "station": "Prep"}
    full = conn.execute(
        "select to_jsonb(e) as j from prep_estimates e where tenant_id = %s", (a.tenant_id,)
    ).fetchone()["j"]
    for k in (a, b):
        [m] = messages(conn, k.kitchen_id)
        p = check_envelope(m, k, "INSERT", "prep_estimates")
        assert p["record"] == {n: v for n, v in full.items() if n != "updated_at"}
        assert p["old_record"] is None
    assert len(messages(conn)) == 2

    clear(conn)
    conn.execute("update prep_estimates set p50_minutes = 13 where tenant_id = %s", (a.tenant_id,))
    for k in (a, b):
        [m] = messages(conn, k.kitchen_id)
        p = check_envelope(m, k, "UPDATE", "prep_estimates")
        assert float(p["record"]["p50_minutes"]) == 13
        assert p["old_record"] == key
    assert messages(conn, c.kitchen_id) == []

    clear(conn)
    conn.execute("delete from prep_estimates where tenant_id = %s", (a.tenant_id,))
    for k in (a, b):
        [m] = messages(conn, k.kitchen_id)
        p = check_envelope(m, k, "DELETE", "prep_estimates")
        assert p["record"] is None and p["old_record"] == key
    assert messages(conn, c.kitchen_id) == []


def test_learning_from_a_completion_is_broadcast_to_the_tenant(
    conn: Any, world: tuple[Kitchen, Kitchen, Kitchen]
) -> None:
    """The estimate rows the server writes inside a completion go out with the task's
    change, in the same transaction."""
    a, b, c = world
    now = datetime.now(UTC)
    me = device_claims(a.tenant_id, a.kitchen_id)
    for i in range(3):  # the third sample makes the kind's estimate exact: its row changes
        tid = add_task(
            conn, a, title="Peel carrots", station="Veg", created_at=now - timedelta(hours=1)
        )
        call(conn, me, "claim_task", tid, a.staff[0], acted_at=now - timedelta(minutes=10 + i))
        if i == 2:
            clear(conn)
        call(conn, me, "complete_task", tid, a.staff[0])
    tables_a = [m["payload"]["table"] for m in messages(conn, a.kitchen_id)]
    assert tables_a.count("tasks") == 1 and "prep_estimates" in tables_a
    assert {m["payload"]["table"] for m in messages(conn, b.kitchen_id)} == {"prep_estimates"}
    assert messages(conn, c.kitchen_id) == []


def test_a_task_moved_to_another_kitchen_leaves_the_old_board(
    conn: Any, world: tuple[Kitchen, Kitchen, Kitchen]
) -> None:
    a, b, c = world
    tid = add_task(conn, a)
    clear(conn)
    conn.execute("update tasks set kitchen_id = %s where id = %s", (b.kitchen_id, tid))
    [to_b] = messages(conn, b.kitchen_id)
    p = check_envelope(to_b, b, "UPDATE", "tasks")
    assert p["record"]["kitchen_id"] == b.kitchen_id
    [to_a] = messages(conn, a.kitchen_id)
    p = check_envelope(to_a, a, "DELETE", "tasks")
    assert p["record"] is None and p["old_record"] == {"id": tid, "kitchen_id": a.kitchen_id}
    assert messages(conn, c.kitchen_id) == []


def test_a_row_too_large_to_broadcast_goes_as_its_key_and_version(
    conn: Any, world: tuple[Kitchen, Kitchen, Kitchen]
) -> None:
    a, _b, _c = world
    tid = add_task(conn, a, notes="x" * 300_000)
    [m] = messages(conn, a.kitchen_id, "tasks")
    assert m["payload"].pop("truncated") is True
    p = check_envelope(m, a, "INSERT", "tasks")
    assert p["record"] == {
        "id": tid,
        "tenant_id": a.tenant_id,
        "kitchen_id": a.kitchen_id,
        "version": 1,
        "station": "",
    }
    assert len(json.dumps(m["payload"])) < 1000


# The probe ------------------------------------------------------------------------------


def probe(conn: Any, claims: dict[str, Any], nonce: Any) -> dict[str, Any]:
    with as_claims(conn, claims):
        row = conn.execute("select public.feed_probe(%s) as r", (nonce,)).fetchone()
    assert row is not None
    result: dict[str, Any] = row["r"]
    return result


def test_feed_probe_sends_to_the_callers_kitchen_only(
    conn: Any, world: tuple[Kitchen, Kitchen, Kitchen]
) -> None:
    a, b, c = world
    nonce = "n-" + uuid.uuid4().hex
    assert probe(conn, device_claims(a.tenant_id, a.kitchen_id), nonce) == {
        "topic": f"kitchen:{a.kitchen_id}"
    }
    [m] = only(conn, a, [b, c])
    assert m["event"] == "caterking_probe" and m["private"] is True
    assert m["payload"] == {"nonce": nonce, "id": str(m["id"])}
    longest = "é" * 64  # characters, not bytes
    assert probe(conn, device_claims(b.tenant_id, b.kitchen_id), longest)["topic"] == (
        f"kitchen:{b.kitchen_id}"
    )
    assert [m["payload"]["nonce"] for m in messages(conn, b.kitchen_id)] == [longest]


@pytest.mark.parametrize("nonce", [None, "", "x" * 65])
def test_feed_probe_nonce_bounds(
    conn: Any, world: tuple[Kitchen, Kitchen, Kitchen], nonce: Any
) -> None:
    a, _b, _c = world
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="1 to 64 characters"):
        probe(conn, device_claims(a.tenant_id, a.kitchen_id), nonce)
    assert messages(conn) == []


def test_feed_probe_is_for_displays_of_a_kitchen_only(
    conn: Any, world: tuple[Kitchen, Kitchen, Kitchen]
) -> None:
    a, _b, c = world
    refused: list[dict[str, Any]] = [
        device_claims(a.tenant_id, a.kitchen_id, kind="admin"),  # Admin: not a display
        device_claims(a.tenant_id, c.kitchen_id),  # a kitchen of another tenant
        device_claims(a.tenant_id, "not-a-uuid"),
        {"role": "authenticated", "sub": str(uuid.uuid4())},  # no tenant, no kitchen
    ]
    for claims in refused:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="signed-in display"):
            probe(conn, claims, "n")
    for claims in (ANON, SERVICE):  # no execute grant at all
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            probe(conn, claims, "n")
    assert messages(conn) == []


# The base's realtime.send and broadcast_changes behave as hosted -------------------------


def test_send_under_rls_never_fails_the_callers_transaction(
    conn: Any, world: tuple[Kitchen, Kitchen, Kitchen]
) -> None:
    """realtime.send runs as its caller: a topic the caller may not use is a WARNING and
    no message, and the caller's transaction goes on (as on a hosted project). A display
    may not send on its own kitchen's main topic either (0008), only on its sub-topics."""
    a, b, _c = world
    me = device_claims(a.tenant_id, a.kitchen_id)
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    sub = f"kitchen:{a.kitchen_id}:notes"
    with as_claims(conn, me):
        for topic in (f"kitchen:{b.kitchen_id}", f"kitchen:{a.kitchen_id}", sub):
            conn.execute("select realtime.send('{\"x\": 2}', 'e', %s, true)", (topic,))
    assert messages(conn, b.kitchen_id) == []
    assert messages(conn, a.kitchen_id) == []
    [m] = conn.execute(
        "select id, payload from realtime.messages where topic = %s", (sub,)
    ).fetchall()
    assert m["payload"] == {"x": 2, "id": str(m["id"])}
    assert sum("ErrorSendingBroadcastMessage" in n for n in notices) == 2
    with as_claims(conn, ANON), pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select realtime.send('{}', 'e', 'x', true)")


def test_broadcast_changes_builds_the_hosted_shape(conn: Any) -> None:
    conn.execute("create temp table t (id int, name text)")
    conn.execute(
        """create function pg_temp.t_changes() returns trigger language plpgsql as $$
        begin
          perform realtime.broadcast_changes('room:1', tg_op, tg_op, tg_table_name,
                                             tg_table_schema, new, old);
          return null;
        end $$"""
    )
    conn.execute(
        "create trigger t_bc after insert or update on t for each row "
        "execute function pg_temp.t_changes()"
    )
    clear(conn)
    conn.execute("insert into t values (1, 'a')")
    conn.execute("update t set name = 'b'")
    rows = conn.execute(
        "select topic, event, payload, private from realtime.messages order by ctid"
    ).fetchall()
    assert [(r["topic"], r["event"], r["private"]) for r in rows] == [
        ("room:1", "INSERT", True),
        ("room:1", "UPDATE", True),
    ]
    ins, upd = (r["payload"] for r in rows)
    assert ins["record"] == {"id": 1, "name": "a"} and ins["old_record"] is None
    assert upd["record"] == {"id": 1, "name": "b"} and upd["old_record"] == {"id": 1, "name": "a"}
    assert ins["operation"] == "INSERT" and ins["table"] == "t" and "id" in ins


def test_messages_are_published_for_realtime(conn: Any) -> None:
    row = conn.execute(
        "select count(*) as n from pg_publication_tables "
        "where pubname = 'supabase_realtime_messages_publication' "
        "and schemaname = 'realtime' and tablename = 'messages'"
    ).fetchone()
    assert row["n"] == 1


def test_inserted_at_is_indexed_for_retention(conn: Any) -> None:
    conn.execute("set enable_seqscan = off")
    plan = conn.execute(
        "explain (format json) delete from realtime.messages where inserted_at < %s",
        (datetime(2000, 1, 1, tzinfo=UTC),),
    ).fetchone()
    assert "messages_inserted_at_idx" in json.dumps(plan)
