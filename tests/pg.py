"""Test helpers for real PostgreSQL: a session server, per-test databases, JWT roles."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

TEMPLATE_DB = "caterking_template"


@dataclass
class Kitchen:
    tenant_id: str
    kitchen_id: str
    staff: list[str]  # active staff ids of this kitchen


def connect(dsn: str) -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(dsn, autocommit=True, row_factory=dict_row)


def device_claims(tenant_id: str, kitchen_id: str, *, kind: str = "display") -> dict[str, Any]:
    return {
        "role": "authenticated",
        "sub": str(uuid.uuid4()),
        "aud": "authenticated",
        "app_metadata": {"tenant_id": tenant_id, "kitchen_id": kitchen_id, "device_kind": kind},
    }


SERVICE = {"role": "service_role"}
ANON = {"role": "anon"}


@contextmanager
def as_claims(
    conn: psycopg.Connection[dict[str, Any]], claims: dict[str, Any]
) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """Run a transaction as PostgREST would: SET LOCAL ROLE + request.jwt.claims."""
    with conn.transaction():
        conn.execute(f'set local role "{claims.get("role", "anon")}"')
        conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        yield conn


def seed_kitchen(conn: psycopg.Connection[dict[str, Any]], n_staff: int = 3) -> Kitchen:
    tenant = str(uuid.uuid4())
    kitchen = str(uuid.uuid4())
    conn.execute("insert into tenants (id, name) values (%s, 'T')", (tenant,))
    conn.execute(
        "insert into kitchens (id, tenant_id, name) values (%s, %s, 'Main')", (kitchen, tenant)
    )
    staff = []
    for i in range(n_staff):
        sid = str(uuid.uuid4())
        conn.execute(
            "insert into staff (id, tenant_id, kitchen_id, display_name, initials) "
            "values (%s, %s, %s, %s, %s)",
            (sid, tenant, kitchen, f"Chef {i}", f"C{i}"),
        )
        staff.append(sid)
    return Kitchen(tenant, kitchen, staff)


def add_task(conn: psycopg.Connection[dict[str, Any]], k: Kitchen, **cols: Any) -> str:
    tid = str(uuid.uuid4())
    row = {"id": tid, "tenant_id": k.tenant_id, "kitchen_id": k.kitchen_id, "title": "Dice onions"}
    row.update(cols)
    names = ", ".join(row)
    marks = ", ".join(["%s"] * len(row))
    conn.execute(f"insert into tasks ({names}) values ({marks})", tuple(row.values()))
    return tid


NOT_SENT: Any = object()  # `call(acted_at=...)` default: the argument is left out


def call(
    conn: psycopg.Connection[dict[str, Any]],
    claims: dict[str, Any],
    fn: str,
    task_id: Any,
    staff_id: Any,
    op_id: Any = None,
    device: str | None = "test-device",
    acted_at: Any = NOT_SENT,
) -> dict[str, Any]:
    """Call an action RPC with named arguments, as PostgREST does; ``acted_at`` adds
    ``p_acted_at`` (None sends an explicit NULL)."""
    if op_id is None:
        op_id = str(uuid.uuid4())
    args: tuple[Any, ...] = (task_id, staff_id, op_id, device)
    extra = ""
    if acted_at is not NOT_SENT:
        extra = ", p_acted_at => %s"
        args += (acted_at,)
    with as_claims(conn, claims):
        row = conn.execute(
            f"select public.{fn}(p_task_id => %s, p_staff_id => %s, p_op_id => %s, "
            f"p_device => %s{extra}) as r",
            args,
        ).fetchone()
    assert row is not None
    result: dict[str, Any] = row["r"]
    return result


def task_row(conn: psycopg.Connection[dict[str, Any]], task_id: str) -> dict[str, Any]:
    row = conn.execute("select * from tasks where id = %s", (task_id,)).fetchone()
    assert row is not None
    return row
