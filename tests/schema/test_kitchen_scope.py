"""Kitchen scope (issue 10, item 5): a display reads and acts only within the kitchen in
its JWT's `app_metadata.kitchen_id`; admins (other signed-in users of the tenant) keep
tenant-wide access."""

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
    seed_kitchen,
    task_row,
)

ACTIONS = ["claim_task", "release_task", "complete_task", "reopen_task"]


def add_kitchen(conn: Any, tenant_id: str, n_staff: int = 2) -> Kitchen:
    """Another kitchen of the same tenant, with its own staff."""
    kid = str(uuid.uuid4())
    conn.execute(
        "insert into kitchens (id, tenant_id, name) values (%s, %s, 'Second')", (kid, tenant_id)
    )
    staff = []
    for i in range(n_staff):
        sid = str(uuid.uuid4())
        conn.execute(
            "insert into staff (id, tenant_id, kitchen_id, display_name, initials) "
            "values (%s, %s, %s, %s, %s)",
            (sid, tenant_id, kid, f"Cook {i}", f"K{i}"),
        )
        staff.append(sid)
    return Kitchen(tenant_id, kid, staff)


@pytest.fixture
def kitchens(conn: Any) -> tuple[Kitchen, Kitchen]:
    """Kitchens A and A2 of one tenant, each with a task claimed and its ledger row."""
    a = seed_kitchen(conn)
    a2 = add_kitchen(conn, a.tenant_id)
    for k in (a, a2):
        tid = add_task(conn, k, title=f"Task of {k.kitchen_id[:8]}")
        call(conn, device_claims(k.tenant_id, k.kitchen_id), "claim_task", tid, k.staff[0])
    return a, a2


def kitchen_of(conn: Any, table: str, row: dict[str, Any]) -> str:
    if table == "kitchens":
        return str(row["id"])
    if table == "task_ops":
        return str(task_row(conn, str(row["task_id"]))["kitchen_id"])
    return str(row["kitchen_id"])


@pytest.mark.parametrize("table", ["kitchens", "staff", "tasks", "task_ops"])
def test_display_reads_only_its_kitchen(
    conn: Any, kitchens: tuple[Kitchen, Kitchen], table: str
) -> None:
    a, a2 = kitchens
    with as_claims(conn, device_claims(a.tenant_id, a.kitchen_id)):
        rows = conn.execute(f"select * from {table}").fetchall()
    assert rows
    assert {kitchen_of(conn, table, r) for r in rows} == {a.kitchen_id}
    # An admin of the tenant reads both kitchens.
    with as_claims(conn, device_claims(a.tenant_id, a.kitchen_id, kind="admin")):
        rows = conn.execute(f"select * from {table}").fetchall()
    assert {kitchen_of(conn, table, r) for r in rows} == {a.kitchen_id, a2.kitchen_id}


@pytest.mark.parametrize("fn", ACTIONS)
def test_display_cannot_act_in_another_kitchen_of_its_tenant(
    conn: Any, kitchens: tuple[Kitchen, Kitchen], fn: str
) -> None:
    a, a2 = kitchens
    tid = add_task(conn, a2, title="Kitchen A2's work")
    if fn in ("release_task", "complete_task"):
        conn.execute(
            "update tasks set status = 'claimed', claimed_by = %s where id = %s",
            (a2.staff[0], tid),
        )
    if fn == "reopen_task":
        conn.execute(
            "update tasks set status = 'done', claimed_by = %s, completed_by = %s where id = %s",
            (a2.staff[0], a2.staff[0], tid),
        )
    before = task_row(conn, tid)
    display_a = device_claims(a.tenant_id, a.kitchen_id)
    # With A2's own staff id the display still learns nothing and changes nothing.
    res = call(conn, display_a, fn, tid, a2.staff[0])
    assert res == {"outcome": "rejected", "task": None, "reason": "unknown_task"}
    assert task_row(conn, tid) == before
    # The tenant's admin may act in any of its kitchens.
    admin = device_claims(a.tenant_id, a.kitchen_id, kind="admin")
    assert call(conn, admin, fn, tid, a2.staff[0])["outcome"] == "applied"


def test_display_without_a_kitchen_sees_and_does_nothing(
    conn: Any, kitchens: tuple[Kitchen, Kitchen]
) -> None:
    a, _ = kitchens
    tid = add_task(conn, a)
    for bad in (None, "", "not-a-uuid", 42):
        claims = device_claims(a.tenant_id, a.kitchen_id)
        claims["app_metadata"]["kitchen_id"] = bad
        with as_claims(conn, claims):
            for table in ("kitchens", "staff", "tasks", "task_ops"):
                assert conn.execute(f"select * from {table}").fetchall() == [], (bad, table)
        assert call(conn, claims, "claim_task", tid, a.staff[0])["reason"] == "unknown_task"
    assert task_row(conn, tid)["status"] == "pending"


def test_private_topics_of_another_kitchen_are_closed_to_a_display(
    conn: Any, kitchens: tuple[Kitchen, Kitchen]
) -> None:
    a, a2 = kitchens

    def may(claims: dict[str, Any], topic: str) -> bool:
        with as_claims(conn, claims):
            row = conn.execute(
                "select caterking_private.may_use_kitchen_topic(%s) as ok", (topic,)
            ).fetchone()
        return bool(row["ok"])

    display_a = device_claims(a.tenant_id, a.kitchen_id)
    admin = device_claims(a.tenant_id, a.kitchen_id, kind="admin")
    assert may(display_a, f"kitchen:{a.kitchen_id}")
    assert may(display_a, f"kitchen:{a.kitchen_id}:announcements")
    assert not may(display_a, f"kitchen:{a2.kitchen_id}")
    assert may(admin, f"kitchen:{a2.kitchen_id}")
    # Shaped like a kitchen topic but not a UUID: refused, never an error.
    for topic in ("kitchen:" + "-" * 36, "kitchen:" + "-" * 36 + ":x", "kitchen:" + "0" * 36):
        assert not may(display_a, topic) and not may(admin, topic)


def test_only_the_database_broadcasts_on_a_kitchens_main_topic(
    conn: Any, kitchens: tuple[Kitchen, Kitchen]
) -> None:
    """0008: a display could forge an 'UPDATE' on `kitchen:<id>` that other boards would
    take for the database's; it may track presence there and broadcast on sub-topics."""
    a, a2 = kitchens

    def may_send(claims: dict[str, Any], topic: str, extension: str) -> bool:
        with conn.transaction(force_rollback=True):
            try:
                with as_claims(conn, claims):
                    conn.execute("select set_config('realtime.topic', %s, true)", (topic,))
                    conn.execute(
                        "insert into realtime.messages (topic, extension, event, payload, private)"
                        " values (%s, %s, 'UPDATE', '{}', true)",
                        (topic, extension),
                    )
            except psycopg.errors.InsufficientPrivilege:
                return False
            return True

    display_a = device_claims(a.tenant_id, a.kitchen_id)
    admin = device_claims(a.tenant_id, a.kitchen_id, kind="admin")
    main = f"kitchen:{a.kitchen_id}"
    assert not may_send(display_a, main, "broadcast")
    assert may_send(display_a, main, "presence")
    assert may_send(display_a, main + ":chat", "broadcast")
    assert may_send(display_a, main + ":", "broadcast")
    # Admin announces on the main topic, as before.
    assert may_send(admin, main, "broadcast")
    assert may_send(admin, f"kitchen:{a2.kitchen_id}", "broadcast")
    # Another kitchen's topics stay closed to the display, whatever the extension.
    for ext in ("broadcast", "presence"):
        assert not may_send(display_a, f"kitchen:{a2.kitchen_id}", ext)
        assert not may_send(display_a, f"kitchen:{a2.kitchen_id}:chat", ext)
    # Any other extension is refused on every topic.
    assert not may_send(admin, main, "postgres_changes")

    # 0009: a permissive policy added by someone else (a hosted template's "signed-in
    # users may broadcast") does not reopen the main topic to displays.
    conn.execute(
        "create policy open_to_all on realtime.messages for insert to authenticated "
        "with check (true)"
    )
    assert not may_send(display_a, main, "broadcast")
    assert may_send(display_a, "room:lobby", "broadcast")  # what that policy is for
    assert may_send(display_a, main, "presence")
    assert may_send(admin, main, "broadcast")
