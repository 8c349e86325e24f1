"""Table privileges are exactly the contract's, whatever the platform grants by default.

Hosted Supabase's default privileges give `anon` and `authenticated` every privilege on
every new table in `public`. Row-level security keeps rows safe from UPDATE and DELETE,
but not from TRUNCATE (which ignores it), and a privilege nobody needs is one more
thing to reason about. Found when the other CaterKing apps' grants were reviewed: a
signed-in display held DELETE, TRUNCATE, REFERENCES and TRIGGER on every table, and
UPDATE on the ledger."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.pg import Kitchen, add_task, as_claims, call, device_claims

PRIVILEGES = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]
# What each role may do to each table (RLS narrows the rows further).
CONTRACT = {
    "tenants": {"authenticated": {"SELECT"}},
    "kitchens": {"authenticated": {"SELECT", "INSERT", "UPDATE"}},
    "staff": {"authenticated": {"SELECT", "INSERT", "UPDATE"}},
    "tasks": {"authenticated": {"SELECT", "INSERT", "UPDATE"}},
    "task_ops": {"authenticated": {"SELECT"}},
    "prep_samples": {"authenticated": {"SELECT"}},
    "prep_estimates": {"authenticated": {"SELECT"}},
}


def held(conn: Any, role: str, table: str) -> set[str]:
    return {
        p
        for p in PRIVILEGES
        if conn.execute(
            "select has_table_privilege(%s, %s, %s) as ok", (role, f"public.{table}", p)
        ).fetchone()["ok"]
    }


def test_every_public_table_is_in_the_contract(conn: Any) -> None:
    rows = conn.execute(
        "select tablename from pg_tables where schemaname = 'public' order by 1"
    ).fetchall()
    assert {r["tablename"] for r in rows} == set(CONTRACT)


@pytest.mark.parametrize("table", sorted(CONTRACT))
def test_exact_privileges(conn: Any, table: str) -> None:
    assert held(conn, "anon", table) == set()
    assert held(conn, "authenticated", table) == CONTRACT[table]["authenticated"]
    assert held(conn, "service_role", table) == set(PRIVILEGES)


def test_a_display_cannot_truncate_the_ledger(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    me = device_claims(k.tenant_id, k.kitchen_id)
    assert call(conn, me, "claim_task", tid, k.staff[0])["outcome"] == "applied"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with as_claims(conn, me):
            conn.execute("truncate public.task_ops")
    assert conn.execute("select count(*) as n from task_ops").fetchone()["n"] == 1


# Functions a client may call: exactly these roles (PostgREST exposes public's).
FUNCTIONS = {
    "public.feed_probe(text)": {"authenticated"},
    "realtime.send(jsonb, text, text, boolean)": {"authenticated", "service_role"},
    "realtime.broadcast_changes(text, text, text, text, text, record, record, text)": {
        "authenticated",
        "service_role",
    },
    "caterking_private.broadcast_row(uuid, text, text, jsonb, jsonb)": set(),
    "caterking_private.broadcast_kitchen_row()": set(),
    "caterking_private.broadcast_estimate_row()": set(),
}


@pytest.mark.parametrize("fn", sorted(FUNCTIONS))
def test_exact_function_grants(conn: Any, fn: str) -> None:
    may = {
        role
        for role in ("anon", "authenticated", "service_role")
        if conn.execute(
            "select has_function_privilege(%s, %s, 'EXECUTE') as ok", (role, fn)
        ).fetchone()["ok"]
    }
    assert may == FUNCTIONS[fn]
