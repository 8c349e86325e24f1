"""version / updated_at advance on every real change and on nothing else."""

from __future__ import annotations

from typing import Any

from tests.pg import add_task, seed_kitchen, task_row


def test_insert_starts_at_one_even_if_told_otherwise(conn: Any) -> None:
    k = seed_kitchen(conn)
    tid = add_task(conn, k, version=99)
    assert task_row(conn, tid)["version"] == 1


def test_each_change_bumps_once(conn: Any) -> None:
    k = seed_kitchen(conn)
    tid = add_task(conn, k)
    for i, title in enumerate(["Slice", "Dice", "Mince"], start=2):
        before = task_row(conn, tid)
        conn.execute("update tasks set title = %s where id = %s", (title, tid))
        after = task_row(conn, tid)
        assert after["version"] == i
        assert after["updated_at"] > before["updated_at"]


def test_no_op_update_bumps_nothing(conn: Any) -> None:
    k = seed_kitchen(conn)
    tid = add_task(conn, k)
    before = task_row(conn, tid)
    conn.execute("update tasks set title = title where id = %s", (tid,))
    conn.execute("update tasks set version = 42, updated_at = now() where id = %s", (tid,))
    after = task_row(conn, tid)
    assert (after["version"], after["updated_at"]) == (before["version"], before["updated_at"])


def test_publication_and_replica_identity(conn: Any) -> None:
    rows = conn.execute(
        "select tablename from pg_publication_tables where pubname = 'supabase_realtime' order by 1"
    ).fetchall()
    assert [r["tablename"] for r in rows] == ["prep_estimates", "staff", "tasks"]
    ident = conn.execute(
        "select relreplident from pg_class where oid = 'public.tasks'::regclass"
    ).fetchone()
    assert ident["relreplident"] == "f"


def test_rls_enabled_and_forced_everywhere(conn: Any) -> None:
    rows = conn.execute(
        "select relname, relrowsecurity, relforcerowsecurity from pg_class "
        "where relnamespace = 'public'::regnamespace and relkind = 'r'"
    ).fetchall()
    assert rows
    for r in rows:
        assert r["relrowsecurity"] and r["relforcerowsecurity"], r["relname"]
