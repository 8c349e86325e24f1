"""`--seed demo`: Harbour Catering's Main Kitchen with a day of realistic prep.

The catalogue of realistic work lives in caterking_server.kitchen_catalogue,
shared with the simulator.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import psycopg
from psycopg_pool import AsyncConnectionPool

from caterking_server.auth import users
from caterking_server.kitchen_catalogue import (
    DEMO_STAFF,
    NOTES,
    NOTES_BY_TITLE,
    PREP_TIMES,
    TASK_TEMPLATES,
    allergens_for,
    chef_speed,
)


class SeedTarget(Protocol):
    """What seeding needs of the kitchen server (LocalStack): its database, and its
    private state file for the accounts' passwords."""

    @property
    def pool(self) -> AsyncConnectionPool[Any]: ...

    def remember(self, key: str, value: Any) -> None: ...

    def recall(self, key: str) -> Any: ...


DEMO_TENANT_NAME = "Harbour Catering"
DEMO_KITCHEN_NAME = "Main Kitchen"
DEMO_DISPLAY_EMAIL = "display@demo.caterking.local"
DEMO_DEVICE = "demo-board"
# `demo --attach` boards: each signs in as its own display account, so the name its
# actions record (the account's device_name) is the board's own.
DEMO_ATTACH_BOARDS = 4
DEMO_TIMEZONE = "UTC"


def attach_account(n: int) -> tuple[str, str]:
    """(email, device name) of the n-th attach board's account (n from 1)."""
    return f"attach-{n}@demo.caterking.local", f"demo-attach-{n}"


def demo_tasks(
    tenant_id: str, kitchen_id: str, staff_ids: list[str], now: datetime
) -> list[dict[str, Any]]:
    """~30 tasks due across the day; some rush/high, some claimed, some done (each in the
    time its job takes that chef, so the server's first estimates are sensible). All were
    on the prep list before the day began (created_at)."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    listed = start - timedelta(hours=1)
    rows: list[dict[str, Any]] = []
    for i, (title, qty, unit, station) in enumerate(TASK_TEMPLATES[:30]):
        due = start + timedelta(minutes=25 * i)
        priority = 2 if i % 9 == 4 else 1 if i % 5 == 2 else 0
        row: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "tenant_id": tenant_id,
            "kitchen_id": kitchen_id,
            "title": title,
            "quantity": qty,
            "unit": unit,
            "station": station,
            "priority": priority,
            "due_at": due.isoformat(),
            "status": "pending",
            "notes": NOTES_BY_TITLE.get(title, NOTES[i % len(NOTES)]),
            "allergens": allergens_for(title),
            "created_at": listed.isoformat(),
        }
        staff = staff_ids[i % len(staff_ids)]
        if due < now - timedelta(minutes=30) and i % 4 != 3:
            took = timedelta(minutes=PREP_TIMES[title].minutes(qty) * chef_speed(staff))
            finished = due - timedelta(minutes=5)
            row.update(
                status="done",
                claimed_by=staff,
                claimed_at=max(finished - took, listed).isoformat(),
                completed_by=staff,
                completed_at=finished.isoformat(),
                claimed_device="demo-seed",
            )
        elif i % 6 == 1:
            row.update(
                status="claimed",
                claimed_by=staff,
                claimed_at=(now - timedelta(minutes=10)).isoformat(),
                claimed_device="demo-seed",
            )
        rows.append(row)
    return rows


async def seed_demo(stack: SeedTarget) -> tuple[str, str]:
    """Create the demo data once; returns the display account (email, password)."""
    async with stack.pool.connection() as conn, conn.transaction():
        await conn.execute("select pg_advisory_xact_lock(hashtext('caterking_demo_seed'))")
        cur = await conn.execute(
            "select id from public.tenants where name = %s order by created_at limit 1",
            (DEMO_TENANT_NAME,),
        )
        found = await cur.fetchone()
        if found is None:
            tenant_id, kitchen_id = await _create_kitchen(conn)
        else:
            tenant_id = str(found[0])
            cur = await conn.execute(
                "select id from public.kitchens where tenant_id = %s and name = %s limit 1",
                (tenant_id, DEMO_KITCHEN_NAME),
            )
            krow = await cur.fetchone()
            assert krow is not None, "demo tenant without its kitchen"
            kitchen_id = str(krow[0])
        password = await _ensure_display_user(
            stack, conn, tenant_id, kitchen_id, DEMO_DISPLAY_EMAIL, DEMO_DEVICE
        )
        for n in range(1, DEMO_ATTACH_BOARDS + 1):
            email, device = attach_account(n)
            await _ensure_display_user(stack, conn, tenant_id, kitchen_id, email, device)
    return DEMO_DISPLAY_EMAIL, password


async def _create_kitchen(conn: psycopg.AsyncConnection[Any]) -> tuple[str, str]:
    tenant_id = str(uuid.uuid4())
    kitchen_id = str(uuid.uuid4())
    await conn.execute(
        "insert into public.tenants (id, name) values (%s, %s)", (tenant_id, DEMO_TENANT_NAME)
    )
    await conn.execute(
        "insert into public.kitchens (id, tenant_id, name, timezone) values (%s, %s, %s, %s)",
        (kitchen_id, tenant_id, DEMO_KITCHEN_NAME, DEMO_TIMEZONE),
    )
    staff_ids = []
    for name, initials in DEMO_STAFF:
        sid = str(uuid.uuid4())
        staff_ids.append(sid)
        await conn.execute(
            "insert into public.staff (id, tenant_id, kitchen_id, display_name, initials) "
            "values (%s, %s, %s, %s, %s)",
            (sid, tenant_id, kitchen_id, name, initials),
        )
    rows = demo_tasks(tenant_id, kitchen_id, staff_ids, datetime.now(UTC))
    cols = sorted({k for r in rows for k in r})
    await conn.execute(
        "insert into public.tasks ("
        + ", ".join(cols)
        + ") select "
        + ", ".join(cols)
        + " from json_populate_recordset(null::public.tasks, %s::json)",
        (json.dumps(rows),),
    )
    return tenant_id, kitchen_id


def _password_key(email: str) -> str:
    """Where stack.json keeps an account's password (the main one: as it always was)."""
    if email == DEMO_DISPLAY_EMAIL:
        return "demo_display_password"
    return f"demo_password:{email}"


def remembered_password(state: dict[str, Any], email: str) -> str | None:
    pw = state.get(_password_key(email))
    return pw if isinstance(pw, str) and pw else None


async def _ensure_display_user(
    stack: SeedTarget,
    conn: psycopg.AsyncConnection[Any],
    tenant_id: str,
    kitchen_id: str,
    email: str,
    device: str,
) -> str:
    meta = {
        "tenant_id": tenant_id,
        "kitchen_id": kitchen_id,
        "device_kind": "display",
        "device_name": device,
    }
    remembered = stack.recall(_password_key(email))
    user = await users.find_by_email(conn, email)
    if user is not None:
        # Keep the account pointing at this database's demo kitchen.
        current = dict(user["raw_app_meta_data"] or {})
        if any(current.get(k) != v for k, v in meta.items()):
            current.update(meta)
            await conn.execute(
                "update auth.users set raw_app_meta_data = %s, updated_at = now() where id = %s",
                (json.dumps(current), user["id"]),
            )
        if (
            isinstance(remembered, str)
            and remembered
            and await users.check_password(user["encrypted_password"], remembered)
        ):
            return remembered
    password = remembered if isinstance(remembered, str) and remembered else _new_password()
    pw_hash = await users.hash_password(password)
    if user is None:
        await users.insert_user(
            conn,
            email=email,
            password_hash=pw_hash,
            app_metadata=meta,
            user_metadata={"name": f"Main Kitchen display ({device})"},
            email_confirm=True,
        )
    else:
        await conn.execute(
            "update auth.users set encrypted_password = %s, updated_at = now(), "
            "email_confirmed_at = coalesce(email_confirmed_at, now()) where id = %s",
            (pw_hash, user["id"]),
        )
    stack.remember(_password_key(email), password)
    return password


def _new_password() -> str:
    import secrets

    return secrets.token_urlsafe(12)
