"""Tenant and kitchen isolation through RLS, by table and by RPC."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.pg import (
    ANON,
    Kitchen,
    add_task,
    as_claims,
    call,
    device_claims,
    seed_kitchen,
    task_row,
)

TABLES = ["tenants", "kitchens", "staff", "tasks", "task_ops", "prep_estimates", "prep_samples"]


@pytest.fixture
def two(conn: Any) -> tuple[Kitchen, Kitchen]:
    a, b = seed_kitchen(conn), seed_kitchen(conn)
    for k in (a, b):
        tid = add_task(conn, k)
        call(conn, device_claims(k.tenant_id, k.kitchen_id), "claim_task", tid, k.staff[0])
        # A finished task gives each tenant a learned sample and estimate row.
        done = add_task(conn, k, title="Slice leeks", station="veg")
        conn.execute(
            "update tasks set status = 'done', claimed_by = %s, completed_by = %s, "
            "claimed_at = now() - interval '10 minutes', completed_at = now() where id = %s",
            (k.staff[0], k.staff[0], done),
        )
    return a, b


@pytest.mark.parametrize("table", TABLES)
def test_device_sees_only_its_tenant(conn: Any, two: tuple[Kitchen, Kitchen], table: str) -> None:
    _a, b = two
    with as_claims(conn, device_claims(b.tenant_id, b.kitchen_id)):
        rows = conn.execute(f"select * from {table}").fetchall()
    assert rows, "tenant B must see its own rows"
    for r in rows:
        tenant = r.get("tenant_id", r.get("id")) if table != "task_ops" else None
        if table == "task_ops":
            task = conn.execute(
                "select tenant_id from tasks where id = %s", (r["task_id"],)
            ).fetchone()
            tenant = task["tenant_id"]
        assert str(tenant) == b.tenant_id


@pytest.mark.parametrize("table", TABLES)
def test_anon_sees_nothing(conn: Any, two: tuple[Kitchen, Kitchen], table: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_claims(conn, ANON):
        conn.execute(f"select * from {table}").fetchall()


def test_anon_cannot_call_actions(conn: Any, two: tuple[Kitchen, Kitchen]) -> None:
    a, _ = two
    tid = add_task(conn, a)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call(conn, ANON, "claim_task", tid, a.staff[0])
    assert task_row(conn, tid)["status"] == "pending"


def test_device_cannot_write_other_tenant(conn: Any, two: tuple[Kitchen, Kitchen]) -> None:
    a, b = two
    admin_b = device_claims(b.tenant_id, b.kitchen_id, kind="admin")
    a_task = add_task(conn, a)
    # Insert into A's tenant: refused by the policy's check.
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_claims(conn, admin_b):
        conn.execute(
            "insert into tasks (tenant_id, kitchen_id, title) values (%s, %s, 'x')",
            (a.tenant_id, a.kitchen_id),
        )
    # Update A's rows: they are invisible, so nothing changes.
    with as_claims(conn, admin_b):
        cur = conn.execute("update tasks set title = 'hacked' where id = %s", (a_task,))
        assert cur.rowcount == 0
    # Delete: nobody but service_role may delete tasks at all (0006).
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_claims(conn, admin_b):
        conn.execute("delete from tasks where id = %s", (a_task,))
    assert task_row(conn, a_task)["title"] == "Dice onions"


def test_display_cannot_write_tasks_directly(conn: Any, two: tuple[Kitchen, Kitchen]) -> None:
    a, _ = two
    tid = add_task(conn, a)
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege),
        as_claims(conn, device_claims(a.tenant_id, a.kitchen_id)),
    ):
        conn.execute(
            "insert into tasks (tenant_id, kitchen_id, title) values (%s, %s, 'x')",
            (a.tenant_id, a.kitchen_id),
        )
    with as_claims(conn, device_claims(a.tenant_id, a.kitchen_id)):
        assert conn.execute("update tasks set status = 'done' where id = %s", (tid,)).rowcount == 0


def test_admin_of_tenant_can_add_tasks(conn: Any, two: tuple[Kitchen, Kitchen]) -> None:
    a, _ = two
    with as_claims(conn, device_claims(a.tenant_id, a.kitchen_id, kind="admin")):
        row = conn.execute(
            "insert into tasks (tenant_id, kitchen_id, title) values (%s, %s, 'Roast beets') "
            "returning version",
            (a.tenant_id, a.kitchen_id),
        ).fetchone()
    assert row["version"] == 1


@pytest.mark.parametrize("fn", ["claim_task", "release_task", "complete_task", "reopen_task"])
def test_rpc_across_tenants_learns_nothing(
    conn: Any, two: tuple[Kitchen, Kitchen], fn: str
) -> None:
    a, b = two
    tid = add_task(conn, a)
    before = task_row(conn, tid)
    res = call(conn, device_claims(b.tenant_id, b.kitchen_id), fn, tid, b.staff[0])
    assert res == {"outcome": "rejected", "task": None, "reason": "unknown_task"}
    # Even with a staff id of tenant A, B learns nothing and changes nothing.
    res = call(conn, device_claims(b.tenant_id, b.kitchen_id), fn, tid, a.staff[0])
    assert res == {"outcome": "rejected", "task": None, "reason": "unknown_task"}
    assert task_row(conn, tid) == before


def test_staff_of_other_kitchen_cannot_claim(conn: Any) -> None:
    k1 = seed_kitchen(conn)
    k2_id = str(uuid.uuid4())
    conn.execute(
        "insert into kitchens (id, tenant_id, name) values (%s, %s, 'K2')", (k2_id, k1.tenant_id)
    )
    s2 = str(uuid.uuid4())
    conn.execute(
        "insert into staff (id, tenant_id, kitchen_id, display_name, initials) values (%s, %s, %s, 'Ana', 'AN')",
        (s2, k1.tenant_id, k2_id),
    )
    tid = add_task(conn, k1)
    res = call(conn, device_claims(k1.tenant_id, k1.kitchen_id), "claim_task", tid, s2)
    assert (res["outcome"], res["reason"]) == ("rejected", "wrong_kitchen")
    assert task_row(conn, tid)["status"] == "pending"


def test_malformed_tenant_claim_sees_nothing(conn: Any, two: tuple[Kitchen, Kitchen]) -> None:
    claims = {"role": "authenticated", "app_metadata": {"tenant_id": "'; drop table tasks; --"}}
    with as_claims(conn, claims):
        assert conn.execute("select * from tasks").fetchall() == []
    a, _ = two
    tid = add_task(conn, a)
    assert call(conn, claims, "claim_task", tid, a.staff[0])["reason"] == "no_tenant"
