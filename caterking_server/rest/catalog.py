"""A small schema cache of `public`'s relations and columns, read from the catalogue."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from psycopg_pool import AsyncConnectionPool

TTL = 2.0
MIN_RELOAD_INTERVAL = 0.25


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, str]  # name -> format_type, in attnum order
    pk: tuple[str, ...] = ()


@dataclass
class Catalog:
    pool: AsyncConnectionPool
    tables: dict[str, Table] = field(default_factory=dict)
    loaded_at: float = 0.0
    _lock: asyncio.Lock | None = None

    async def _load(self) -> None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "select c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
                "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 "
                "and not a.attisdropped "
                "where n.nspname = 'public' and c.relkind in ('r', 'v', 'm', 'p', 'f') "
                "order by c.relname, a.attnum"
            )
            cols: dict[str, dict[str, str]] = {}
            for rel, att, typ in await cur.fetchall():
                cols.setdefault(rel, {})[att] = typ
            cur = await conn.execute(
                "select c.relname, array_agg(a.attname::text order by k.ord) "
                "from pg_index i join pg_class c on c.oid = i.indrelid "
                "join pg_namespace n on n.oid = c.relnamespace "
                "cross join lateral unnest(i.indkey::int2[]) with ordinality k(attnum, ord) "
                "join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum "
                "where i.indisprimary and n.nspname = 'public' group by c.relname"
            )
            pks = {rel: tuple(names) for rel, names in await cur.fetchall()}
        self.tables = {rel: Table(rel, columns, pks.get(rel, ())) for rel, columns in cols.items()}
        self.loaded_at = time.monotonic()

    async def table(self, name: str) -> Table | None:
        """The table, reloading the cache when stale or on a miss (rate-limited)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        age = time.monotonic() - self.loaded_at
        found = self.tables.get(name)
        if age > TTL or (found is None and age > MIN_RELOAD_INTERVAL):
            seen = self.loaded_at
            async with self._lock:
                if self.loaded_at == seen:  # nobody reloaded while we waited
                    await self._load()
            found = self.tables.get(name)
        return found
