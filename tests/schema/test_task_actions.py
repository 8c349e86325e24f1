"""Every row of the task-action table (tests/action_table.py), against real PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.action_table import CASES
from tests.pg import (
    SERVICE,
    Kitchen,
    add_task,
    call,
    device_claims,
    task_row,
)


def dev(k: Kitchen) -> dict[str, Any]:
    return device_claims(k.tenant_id, k.kitchen_id)


def set_state(conn: Any, tid: str, **cols: Any) -> None:
    sets = ", ".join(f"{c} = %s" for c in cols)
    conn.execute(f"update tasks set {sets} where id = %s", (*cols.values(), tid))


def claimed(conn: Any, k: Kitchen, by: int) -> str:
    tid = add_task(conn, k)
    set_state(conn, tid, status="claimed", claimed_by=k.staff[by])
    return tid


def done(conn: Any, k: Kitchen, by: int) -> str:
    tid = add_task(conn, k)
    set_state(
        conn,
        tid,
        status="done",
        claimed_by=k.staff[by],
        completed_by=k.staff[by],
        completed_at="2026-11-25T10:00:00Z",
    )
    return tid


def cancelled(conn: Any, k: Kitchen) -> str:
    tid = add_task(conn, k)
    set_state(conn, tid, status="cancelled")
    return tid


def make(conn: Any, k: Kitchen, state: str) -> str:
    if state == "pending":
        return add_task(conn, k)
    if state.startswith("claimed"):
        return claimed(conn, k, int(state[-1]))
    if state.startswith("done"):
        return done(conn, k, int(state[-1]))
    return cancelled(conn, k)


@pytest.mark.parametrize(("fn", "state", "who", "outcome", "after", "reason"), CASES)
def test_action_table(
    conn: Any,
    k: Kitchen,
    fn: str,
    state: str,
    who: int,
    outcome: str,
    after: str,
    reason: str | None,
) -> None:
    tid = make(conn, k, state)
    before = task_row(conn, tid)
    res = call(conn, dev(k), fn, tid, k.staff[who])
    assert res["outcome"] == outcome
    assert res["reason"] == reason
    now = task_row(conn, tid)
    assert now["status"] == after
    assert res["task"]["id"] == tid and res["task"]["status"] == after
    assert res["task"]["version"] == now["version"]
    if outcome == "applied":
        assert now["version"] == before["version"] + 1
        assert now["updated_at"] > before["updated_at"]
    else:
        assert now["version"] == before["version"]
        assert now["updated_at"] == before["updated_at"]


def test_claim_sets_claimer_and_device(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    me = dev(k)
    me["app_metadata"]["device_name"] = "pass-display"  # the device is the account's
    res = call(conn, me, "claim_task", tid, k.staff[1], device="ignored")
    t = res["task"]
    assert t["claimed_by"] == k.staff[1]
    assert t["claimed_device"] == "pass-display"
    assert t["claimed_at"] is not None


def test_complete_and_reopen_clear_fields(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    res = call(conn, dev(k), "complete_task", tid, k.staff[2])
    assert res["task"]["completed_by"] == k.staff[2]
    assert res["task"]["completed_at"] is not None
    res = call(conn, dev(k), "reopen_task", tid, k.staff[0])
    t = res["task"]
    assert (t["status"], t["claimed_by"], t["completed_by"], t["completed_at"]) == (
        "pending",
        None,
        None,
        None,
    )


def test_same_op_twice_is_duplicate_and_changes_once(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    op = str(uuid.uuid4())
    first = call(conn, dev(k), "claim_task", tid, k.staff[0], op_id=op)
    second = call(conn, dev(k), "claim_task", tid, k.staff[0], op_id=op)
    assert first["outcome"] == "applied"
    assert second["outcome"] == "duplicate"
    assert second["reason"] == "already_applied"
    assert task_row(conn, tid)["version"] == 2
    ops = conn.execute("select count(*) as n from task_ops where op_id = %s", (op,)).fetchone()
    assert ops["n"] == 1


def test_replayed_op_after_other_changes_returns_current_row(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    op = str(uuid.uuid4())
    assert call(conn, dev(k), "claim_task", tid, k.staff[0], op_id=op)["outcome"] == "applied"
    assert call(conn, dev(k), "complete_task", tid, k.staff[0])["outcome"] == "applied"
    assert call(conn, dev(k), "reopen_task", tid, k.staff[1])["outcome"] == "applied"
    v = task_row(conn, tid)["version"]
    replay = call(conn, dev(k), "claim_task", tid, k.staff[0], op_id=op)
    assert replay["outcome"] == "duplicate"
    assert replay["task"]["status"] == "pending"
    assert replay["task"]["version"] == v
    assert task_row(conn, tid)["version"] == v


def test_replayed_conflict_says_so(conn: Any, k: Kitchen) -> None:
    tid = claimed(conn, k, 1)
    op = str(uuid.uuid4())
    assert call(conn, dev(k), "claim_task", tid, k.staff[0], op_id=op)["outcome"] == "conflict"
    replay = call(conn, dev(k), "claim_task", tid, k.staff[0], op_id=op)
    assert (replay["outcome"], replay["reason"]) == ("duplicate", "already_conflict")


def test_op_id_reused_for_another_task_is_rejected(conn: Any, k: Kitchen) -> None:
    a, b = add_task(conn, k), add_task(conn, k)
    op = str(uuid.uuid4())
    call(conn, dev(k), "claim_task", a, k.staff[0], op_id=op)
    res = call(conn, dev(k), "claim_task", b, k.staff[0], op_id=op)
    assert (res["outcome"], res["reason"], res["task"]) == ("rejected", "op_id_reused", None)
    assert task_row(conn, b)["status"] == "pending"


def test_service_role_may_act(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    assert call(conn, SERVICE, "claim_task", tid, k.staff[0])["outcome"] == "applied"
