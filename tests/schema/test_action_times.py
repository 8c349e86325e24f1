"""The time the chef acted (``p_acted_at``) against real PostgreSQL: stored as
claimed_at / completed_at, clamped to the task's history and the server's now, kept in
the ledger beside the arrival time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from caterking_schema.migrate import apply_base, migrations
from caterking_server.embedded_pg import EmbeddedPostgres
from caterking_server.stack import LocalStack
from tests.pg import (
    NOT_SENT,
    SERVICE,
    Kitchen,
    add_task,
    call,
    connect,
    device_claims,
    seed_kitchen,
    task_row,
)

ACTIONS = ["claim_task", "release_task", "complete_task", "reopen_task"]


def dev(k: Kitchen) -> dict[str, Any]:
    return device_claims(k.tenant_id, k.kitchen_id)


def db_now(conn: Any) -> datetime:
    now: datetime = conn.execute("select now() as n").fetchone()["n"]
    return now


def old_task(conn: Any, k: Kitchen, **cols: Any) -> str:
    """A task created two days ago, so its creation never bounds the times under test."""
    return add_task(conn, k, created_at=db_now(conn) - timedelta(days=2), **cols)


def set_state(conn: Any, tid: str, **cols: Any) -> None:
    sets = ", ".join(f"{c} = %s" for c in cols)
    conn.execute(f"update tasks set {sets} where id = %s", (*cols.values(), tid))


def ledger(conn: Any, op: str) -> dict[str, Any]:
    row: dict[str, Any] = conn.execute(
        "select outcome, acted_at, received_at, created_at from task_ops where op_id = %s", (op,)
    ).fetchone()
    assert row is not None
    return row


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def act(conn: Any, k: Kitchen, fn: str, tid: str, who: int, acted_at: Any) -> tuple[Any, str]:
    op = str(uuid.uuid4())
    return call(conn, dev(k), fn, tid, k.staff[who], op_id=op, acted_at=acted_at), op


# --- what is stored ---------------------------------------------------------------------


def test_the_chefs_time_is_the_claim_time(conn: Any, k: Kitchen) -> None:
    tid = old_task(conn, k)
    acted = db_now(conn) - timedelta(minutes=5)
    res, op = act(conn, k, "claim_task", tid, 0, acted)
    assert (res["outcome"], res["reason"]) == ("applied", None)
    assert ts(res["task"]["claimed_at"]) == acted
    assert task_row(conn, tid)["claimed_at"] == acted
    led = ledger(conn, op)
    assert led["acted_at"] == acted
    assert led["received_at"] - acted >= timedelta(minutes=5)
    assert led["created_at"] == led["received_at"]


@pytest.mark.parametrize("acted_at", [NOT_SENT, None], ids=["left_out", "null"])
def test_without_a_time_the_action_happened_on_arrival(
    conn: Any, k: Kitchen, acted_at: Any
) -> None:
    tid = old_task(conn, k)
    before = db_now(conn)
    _, op = act(conn, k, "claim_task", tid, 0, acted_at)
    led = ledger(conn, op)
    assert led["acted_at"] == led["received_at"] == task_row(conn, tid)["claimed_at"]
    assert led["received_at"] >= before


def test_complete_from_pending_claims_and_completes_in_the_same_moment(
    conn: Any, k: Kitchen
) -> None:
    tid = old_task(conn, k)
    acted = db_now(conn) - timedelta(minutes=3)
    res, _ = act(conn, k, "complete_task", tid, 1, acted)
    row = task_row(conn, tid)
    assert res["outcome"] == "applied"
    assert row["claimed_at"] == row["completed_at"] == acted
    assert str(row["claimed_by"]) == str(row["completed_by"]) == k.staff[1]


def test_completing_a_claimed_task_keeps_the_claim_time(conn: Any, k: Kitchen) -> None:
    tid = old_task(conn, k)
    now = db_now(conn)
    _, _ = act(conn, k, "claim_task", tid, 0, now - timedelta(minutes=10))
    _, op = act(conn, k, "complete_task", tid, 0, now - timedelta(minutes=3))
    row = task_row(conn, tid)
    assert row["claimed_at"] == now - timedelta(minutes=10)
    assert row["completed_at"] == ledger(conn, op)["acted_at"] == now - timedelta(minutes=3)


# --- the clamps ---------------------------------------------------------------------------


def test_never_before_the_claim_it_completes(conn: Any, k: Kitchen) -> None:
    tid = old_task(conn, k)
    claimed_at = db_now(conn) - timedelta(minutes=5)
    set_state(conn, tid, status="claimed", claimed_by=k.staff[0], claimed_at=claimed_at)
    res, op = act(conn, k, "complete_task", tid, 0, claimed_at - timedelta(minutes=5))
    assert (res["outcome"], res["reason"]) == ("applied", None)  # clamped silently
    assert task_row(conn, tid)["completed_at"] == claimed_at
    assert ledger(conn, op)["acted_at"] == claimed_at


def test_never_before_the_task_existed(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)  # created now
    created = task_row(conn, tid)["created_at"]
    act(conn, k, "claim_task", tid, 0, created - timedelta(hours=1))
    assert task_row(conn, tid)["claimed_at"] == created


def test_never_before_the_last_applied_action_in_the_ledger(conn: Any, k: Kitchen) -> None:
    tid = old_task(conn, k)
    now = db_now(conn)
    act(conn, k, "claim_task", tid, 0, now - timedelta(minutes=10))
    act(conn, k, "release_task", tid, 0, now - timedelta(minutes=5))  # clears claimed_at
    # A conflict is not a change of state: it does not move the bound.
    res, _ = act(conn, k, "release_task", tid, 2, now - timedelta(minutes=2))
    assert res["outcome"] == "conflict"
    # A board that was offline claimed it "8 minutes ago": not before the release.
    res, op = act(conn, k, "claim_task", tid, 1, now - timedelta(minutes=8))
    assert res["outcome"] == "applied"
    assert task_row(conn, tid)["claimed_at"] == now - timedelta(minutes=5)
    assert ledger(conn, op)["acted_at"] == now - timedelta(minutes=5)


def test_a_reopen_is_never_before_the_completion(conn: Any, k: Kitchen) -> None:
    tid = old_task(conn, k)
    now = db_now(conn)
    act(conn, k, "complete_task", tid, 0, now - timedelta(minutes=3))
    res, op = act(conn, k, "reopen_task", tid, 1, now - timedelta(minutes=6))
    assert res["outcome"] == "applied"
    assert ledger(conn, op)["acted_at"] == now - timedelta(minutes=3)


def test_a_time_in_the_future_is_clamped_to_now(conn: Any, k: Kitchen) -> None:
    tid = old_task(conn, k)
    res, op = act(conn, k, "claim_task", tid, 0, db_now(conn) + timedelta(hours=1))
    assert (res["outcome"], res["reason"]) == ("applied", None)
    led = ledger(conn, op)
    assert led["acted_at"] == led["received_at"] == task_row(conn, tid)["claimed_at"]


def test_older_than_24_hours_falls_back_to_now_and_says_so(conn: Any, k: Kitchen) -> None:
    tid = old_task(conn, k)
    res, op = act(conn, k, "complete_task", tid, 0, db_now(conn) - timedelta(hours=25))
    assert (res["outcome"], res["reason"]) == ("applied", "acted_at_too_old")
    led = ledger(conn, op)
    row = task_row(conn, tid)
    assert led["acted_at"] == led["received_at"] == row["completed_at"] == row["claimed_at"]


def test_23_hours_old_is_still_believed(conn: Any, k: Kitchen) -> None:
    tid = old_task(conn, k)
    acted = db_now(conn) - timedelta(hours=23)
    res, _ = act(conn, k, "claim_task", tid, 0, acted)
    assert (res["outcome"], res["reason"]) == ("applied", None)
    assert task_row(conn, tid)["claimed_at"] == acted


def test_a_too_old_conflict_keeps_its_own_reason(conn: Any, k: Kitchen) -> None:
    tid = old_task(conn, k)
    act(conn, k, "claim_task", tid, 1, None)
    res, op = act(conn, k, "claim_task", tid, 0, db_now(conn) - timedelta(hours=30))
    assert (res["outcome"], res["reason"]) == ("conflict", "claimed_by_other")
    led = ledger(conn, op)
    assert led["acted_at"] == led["received_at"]


# --- idempotency and the ledger ---------------------------------------------------------


def test_a_replay_keeps_the_first_acted_time(conn: Any, k: Kitchen) -> None:
    tid = old_task(conn, k)
    now = db_now(conn)
    op = str(uuid.uuid4())
    first = call(
        conn, dev(k), "claim_task", tid, k.staff[0], op_id=op, acted_at=now - timedelta(minutes=7)
    )
    v = task_row(conn, tid)["version"]
    again = call(
        conn, dev(k), "claim_task", tid, k.staff[0], op_id=op, acted_at=now - timedelta(minutes=1)
    )
    assert first["outcome"] == "applied"
    assert (again["outcome"], again["reason"]) == ("duplicate", "already_applied")
    row = task_row(conn, tid)
    assert (row["claimed_at"], row["version"]) == (now - timedelta(minutes=7), v)
    rows = conn.execute("select acted_at from task_ops where op_id = %s", (op,)).fetchall()
    assert rows == [{"acted_at": now - timedelta(minutes=7)}]


def test_every_ledger_row_has_both_times(conn: Any, k: Kitchen) -> None:
    tid = old_task(conn, k)
    now = db_now(conn)
    outcomes = [
        act(conn, k, "claim_task", tid, 0, now - timedelta(minutes=4))[0]["outcome"],
        act(conn, k, "claim_task", tid, 0, NOT_SENT)[0]["outcome"],  # already_claimed
        act(conn, k, "claim_task", tid, 1, None)[0]["outcome"],  # claimed_by_other
    ]
    assert outcomes == ["applied", "duplicate", "conflict"]
    rows = conn.execute(
        "select acted_at, received_at from task_ops where task_id = %s", (tid,)
    ).fetchall()
    assert len(rows) == 3
    assert all(r["acted_at"] is not None and r["received_at"] is not None for r in rows)
    cols = conn.execute(
        "select column_name, is_nullable from information_schema.columns "
        "where table_schema = 'public' and table_name = 'task_ops' "
        "and column_name in ('acted_at', 'received_at', 'created_at') order by 1"
    ).fetchall()
    assert [(c["column_name"], c["is_nullable"]) for c in cols] == [
        ("acted_at", "NO"),
        ("created_at", "NO"),
        ("received_at", "NO"),
    ]


# --- signatures, grants and old callers -----------------------------------------------------


def test_one_signature_per_action_with_a_defaulted_acted_at(conn: Any) -> None:
    rows = conn.execute(
        "select p.proname, pg_get_function_identity_arguments(p.oid) as args, "
        "p.pronargdefaults as defaults, "
        "has_function_privilege('anon', p.oid, 'execute') as anon, "
        "has_function_privilege('authenticated', p.oid, 'execute') as authenticated, "
        "has_function_privilege('service_role', p.oid, 'execute') as service_role "
        "from pg_proc p where p.pronamespace = 'public'::regnamespace "
        "and p.proname = any(%s) order by 1",
        (ACTIONS,),
    ).fetchall()
    assert [r["proname"] for r in rows] == sorted(ACTIONS)  # no overloads left behind
    for r in rows:
        assert r["args"] == (
            "p_task_id uuid, p_staff_id uuid, p_op_id uuid, p_device text, "
            "p_acted_at timestamp with time zone"
        )
        assert r["defaults"] == 1
        assert (r["anon"], r["authenticated"], r["service_role"]) == (False, True, True)
    impl = conn.execute(
        "select count(*) as n, "
        "bool_or(has_function_privilege('anon', p.oid, 'execute')) as anon "
        "from pg_proc p where p.pronamespace = 'caterking_private'::regnamespace "
        "and p.proname = 'task_action'"
    ).fetchone()
    assert impl == {"n": 1, "anon": False}


def test_the_old_positional_call_still_works(conn: Any, k: Kitchen) -> None:
    from tests.pg import as_claims

    tid = old_task(conn, k)
    with as_claims(conn, dev(k)):
        row = conn.execute(
            "select public.claim_task(%s, %s, %s, 'dev') as r",
            (tid, k.staff[0], str(uuid.uuid4())),
        ).fetchone()
    assert row["r"]["outcome"] == "applied"


def _rpc(stack: LocalStack, fn: str, body: dict[str, Any]) -> httpx.Response:
    key = stack.service_role_key
    return httpx.post(
        f"{stack.url}/rest/v1/rpc/{fn}",
        json=body,
        headers={"apikey": key, "Authorization": f"Bearer {key}"},
    )


def test_old_and_new_named_calls_through_rest(stack: LocalStack, kitchen: Kitchen) -> None:
    with connect(stack.db_dsn) as c:
        a = old_task(c, kitchen)
        b = old_task(c, kitchen)
        now = db_now(c)
    four = {"p_staff_id": kitchen.staff[0], "p_device": "old-board"}
    r = _rpc(stack, "claim_task", {**four, "p_task_id": a, "p_op_id": str(uuid.uuid4())})
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "applied"
    acted = now - timedelta(minutes=4)
    r = _rpc(
        stack,
        "complete_task",
        {**four, "p_task_id": b, "p_op_id": str(uuid.uuid4()), "p_acted_at": acted.isoformat()},
    )
    assert r.status_code == 200, r.text
    task = r.json()["task"]
    assert ts(task["completed_at"]) == ts(task["claimed_at"]) == acted
    with connect(stack.db_dsn) as c:
        assert task_row(c, a)["status"] == "claimed"
        assert task_row(c, b)["completed_at"] == acted


# --- the migration on a database that already has a ledger -------------------------------


def test_migration_fills_both_times_of_earlier_ledger_rows(pg_server: EmbeddedPostgres) -> None:
    name = f"m_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as c:
        c.execute(f"create database {name}")
    try:
        earlier = [m for m in migrations() if m.version < "0003"]
        (this,) = [m for m in migrations() if m.version == "0003"]
        with connect(pg_server.url(name)) as conn:
            apply_base(conn)  # type: ignore[arg-type]
            for m in earlier:
                conn.execute(m.sql.encode())
            k = seed_kitchen(conn)
            tid = add_task(conn, k)
            op = str(uuid.uuid4())
            arrived = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
            conn.execute(
                "insert into task_ops (op_id, task_id, action, staff_id, device, outcome, "
                "created_at) values (%s, %s, 'claim', %s, 'd', 'applied', %s)",
                (op, tid, k.staff[0], arrived),
            )
            with conn.transaction():
                conn.execute(this.sql.encode())
            row = ledger(conn, op)
            assert row["acted_at"] == row["received_at"] == row["created_at"] == arrived
            forced = conn.execute(
                "select relforcerowsecurity as f from pg_class where oid = 'task_ops'::regclass"
            ).fetchone()
            assert forced == {"f": True}
            res = call(conn, SERVICE, "claim_task", tid, k.staff[1])
            assert res["outcome"] == "applied"
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as c:
            c.execute(f"drop database if exists {name} with (force)")


# --- the board's prediction stamps the same times ------------------------------------------

SCENARIOS = [
    # (made how, action, who, acted minutes from now)
    ("pending", "claim_task", 0, -5),
    ("pending", "complete_task", 0, -3),
    ("claimed_5_min_ago", "complete_task", 0, -2),
    ("claimed_5_min_ago", "complete_task", 0, -9),  # before its claim
    ("created_now", "claim_task", 0, -60),  # before the task existed
    ("created_now", "complete_task", 1, -60),
]


@pytest.mark.parametrize(("made", "fn", "who", "minutes"), SCENARIOS)
def test_the_prediction_stamps_what_the_server_stamps(
    conn: Any, k: Kitchen, made: str, fn: str, who: int, minutes: int
) -> None:
    from caterking_display.domain.actions import Action, predict
    from caterking_display.domain.task import Task

    now = db_now(conn)
    if made == "created_now":
        tid = add_task(conn, k)
    else:
        tid = old_task(conn, k)
    if made == "claimed_5_min_ago":
        set_state(
            conn,
            tid,
            status="claimed",
            claimed_by=k.staff[who],
            claimed_at=now - timedelta(minutes=5),
        )
    row = conn.execute("select to_jsonb(t) as r from tasks t where id = %s", (tid,)).fetchone()
    before = Task.from_row(row["r"])
    acted = now + timedelta(minutes=minutes)
    action = Action(fn.removesuffix("_task"))
    predicted = predict(before, action, k.staff[who], "test-device", acted)
    res, _ = act(conn, k, fn, tid, who, acted)
    assert res["outcome"] == "applied" and predicted is not None
    confirmed = Task.from_row(res["task"])
    assert (predicted.claimed_at, predicted.completed_at) == (
        confirmed.claimed_at,
        confirmed.completed_at,
    )
