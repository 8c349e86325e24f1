"""Who may do what on a channel: the JWT check, and for private channels the policies on
realtime.messages.

As Supabase does: inside a transaction, as the subscriber's role and claims with
`realtime.topic` set, insert probe rows (extensions broadcast and presence) and read them
back under RLS; then roll back. Read → may join; a broadcast row allowed → may send
broadcasts; a presence row allowed → may track presence (checked apart, as hosted does:
a display may track on its kitchen's topic but not broadcast there, migration 0008)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from caterking_server import tokens

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool


@dataclass(slots=True)
class Policies:
    read: bool
    write: bool  # broadcast
    track: bool = False  # presence


log = logging.getLogger(__name__)


async def authorize(
    pool: AsyncConnectionPool[Any], subtopic: str, role: str, claims: dict[str, Any]
) -> Policies:
    read = write = track = False
    async with pool.connection() as conn:
        try:
            async with conn.transaction(force_rollback=True):
                cur = await conn.execute(
                    "insert into realtime.messages (topic, extension, private) "
                    "values (%s, 'broadcast', true), (%s, 'presence', true) returning id",
                    (subtopic, subtopic),
                )
                ids = [r[0] for r in await cur.fetchall()]
                await conn.execute(
                    "select set_config('role', %s, true), "
                    "set_config('request.jwt.claims', %s, true), "
                    "set_config('realtime.topic', %s, true)",
                    (role, json.dumps(claims), subtopic),
                )
                cur = await conn.execute(
                    "select count(*) from realtime.messages where id = any(%s)", (ids,)
                )
                row = await cur.fetchone()
                read = bool(row and row[0])
                write = await may_insert(conn, subtopic, "broadcast")
                track = await may_insert(conn, subtopic, "presence")
        except psycopg.errors.InvalidParameterValue:  # unknown role
            return Policies(False, False)
        except psycopg.Error as exc:
            # A policy that raises (a topic its functions cannot parse): no access.
            log.info("realtime: authorization of %r failed: %s", subtopic[:100], exc.sqlstate)
            return Policies(False, False)
    return Policies(read, write, track)


async def may_insert(conn: Any, subtopic: str, extension: str) -> bool:
    """May the role set on `conn` insert a row of `extension` for the topic?"""
    try:
        async with conn.transaction():
            await conn.execute(
                "insert into realtime.messages (topic, extension, private) values (%s, %s, true)",
                (subtopic, extension),
            )
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


class Access:
    """The checks a socket (and REST broadcast) makes: a token's claims, a topic's
    policies."""

    def __init__(self, jwt_secret: str, pool: AsyncConnectionPool[Any]) -> None:
        self._secret = jwt_secret
        self._pool = pool

    def claims(self, token: str | None) -> dict[str, Any]:
        """The token's claims; tokens.TokenError with Realtime's reason if refused."""
        return tokens.verify(token, self._secret)

    async def policies(self, subtopic: str, role: str, claims: dict[str, Any]) -> Policies:
        return await authorize(self._pool, subtopic, role, claims)
