"""One request = one transaction, run as the JWT's role with PostgREST's settings.

The pool connects as a superuser (the embedded server's `postgres`, or the
`--db-url` role); every REST request switches with `set_config('role', …, true)`
(= `SET LOCAL ROLE`) to a role the `authenticator` role may become, so RLS and
grants apply exactly as behind PostgREST on Supabase.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

# PostgREST-style per-role statement timeouts (docs/kitchen-server.md, "Limits").
STATEMENT_TIMEOUTS = {"anon": "3s", "authenticated": "8s"}
DEFAULT_TIMEOUT = "30s"


async def switchable_roles(pool: AsyncConnectionPool) -> frozenset[str]:
    """Roles `authenticator` is a member of: the only roles a JWT may name."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select r.rolname from pg_roles r "
            "where pg_has_role('authenticator', r.oid, 'member') "
            "and r.rolname <> 'authenticator'"
        )
        rows = await cur.fetchall()
    return frozenset(str(r[0]) for r in rows)


@asynccontextmanager
async def request_tx(
    pool: AsyncConnectionPool,
    *,
    role: str,
    claims: Mapping[str, Any],
    headers: Mapping[str, str],
    method: str,
    path: str,
    read_only: bool,
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection inside one transaction, switched to `role`; commit on success."""
    async with pool.connection() as conn:
        await conn.execute("begin read only" if read_only else "begin")
        try:
            await conn.execute(
                "select set_config('role', %s, true), "
                "set_config('request.jwt.claims', %s, true), "
                "set_config('request.headers', %s, true), "
                "set_config('request.method', %s, true), "
                "set_config('request.path', %s, true), "
                "set_config('request.cookies', '{}', true), "
                "set_config('statement_timeout', %s, true)",
                (
                    role,
                    json.dumps(dict(claims)),
                    json.dumps({k.lower(): v for k, v in headers.items()}),
                    method,
                    path,
                    STATEMENT_TIMEOUTS.get(role, DEFAULT_TIMEOUT),
                ),
            )
            yield conn
        except BaseException:
            if not conn.closed:
                try:
                    await conn.execute("rollback")
                except psycopg.Error:
                    pass
            raise
        else:
            await conn.execute("commit")


@asynccontextmanager
async def admin_tx(pool: AsyncConnectionPool) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A superuser transaction (Auth's own tables)."""
    async with pool.connection() as conn, conn.transaction():
        yield conn
