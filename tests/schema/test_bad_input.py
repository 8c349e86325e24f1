"""Bad input: rejected with a reason word, or a clear error, and nothing changed."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.pg import (
    Kitchen,
    add_task,
    as_claims,
    call,
    device_claims,
    task_row,
)


def snapshot(conn: Any) -> tuple[Any, ...]:
    tasks = conn.execute("select id, status, version, updated_at from tasks order by id").fetchall()
    ops = conn.execute("select count(*) as n from task_ops").fetchone()["n"]
    return (tuple(tuple(r.values()) for r in tasks), ops)


@pytest.mark.parametrize("fn", ["claim_task", "release_task", "complete_task", "reopen_task"])
def test_unknown_task_rejected(conn: Any, k: Kitchen, fn: str) -> None:
    add_task(conn, k)
    before = snapshot(conn)
    res = call(conn, device_claims(k.tenant_id, k.kitchen_id), fn, str(uuid.uuid4()), k.staff[0])
    assert res == {"outcome": "rejected", "task": None, "reason": "unknown_task"}
    assert snapshot(conn) == before


def test_inactive_staff_rejected(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    conn.execute("update staff set active = false where id = %s", (k.staff[0],))
    before = snapshot(conn)
    res = call(conn, device_claims(k.tenant_id, k.kitchen_id), "claim_task", tid, k.staff[0])
    assert (res["outcome"], res["reason"]) == ("rejected", "inactive_staff")
    assert snapshot(conn) == before


def test_unknown_staff_rejected(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    before = snapshot(conn)
    res = call(conn, device_claims(k.tenant_id, k.kitchen_id), "claim_task", tid, str(uuid.uuid4()))
    assert (res["outcome"], res["reason"]) == ("rejected", "unknown_staff")
    assert snapshot(conn) == before


def test_cancelled_task_is_a_conflict_and_changes_nothing(conn: Any, k: Kitchen) -> None:
    # The contract's table (docs/database-contract.md): claim/complete of a cancelled task is a conflict (the chef is
    # told and the card leaves the board), not an action to keep in the failed list.
    tid = add_task(conn, k)
    conn.execute("update tasks set status = 'cancelled' where id = %s", (tid,))
    before = snapshot(conn)
    res = call(conn, device_claims(k.tenant_id, k.kitchen_id), "claim_task", tid, k.staff[0])
    assert (res["outcome"], res["reason"]) == ("conflict", "cancelled")
    assert snapshot(conn)[0] == before[0]


@pytest.mark.parametrize("which", ["task", "staff", "op"])
def test_null_arguments_rejected(conn: Any, k: Kitchen, which: str) -> None:
    tid = add_task(conn, k)
    before = snapshot(conn)
    args: dict[str, Any] = {"task_id": tid, "staff_id": k.staff[0], "op_id": str(uuid.uuid4())}
    args[f"{which}_id"] = None
    with as_claims(conn, device_claims(k.tenant_id, k.kitchen_id)):
        row = conn.execute(
            "select public.claim_task(%s, %s, %s, 'dev') as r",
            (args["task_id"], args["staff_id"], args["op_id"]),
        ).fetchone()
    assert row["r"] == {"outcome": "rejected", "task": None, "reason": "missing_argument"}
    assert snapshot(conn) == before


def test_malformed_uuid_is_a_clear_error(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    before = snapshot(conn)
    with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="uuid"):
        call(conn, device_claims(k.tenant_id, k.kitchen_id), "claim_task", "not-a-uuid", k.staff[0])
    assert snapshot(conn) == before
    assert task_row(conn, tid)["version"] == 1


def test_bad_status_and_priority_refused(conn: Any, k: Kitchen) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        add_task(conn, k, status="eaten")
    with pytest.raises(psycopg.errors.CheckViolation):
        add_task(conn, k, priority=7)
