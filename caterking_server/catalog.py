"""The schema cache: what REST and Realtime need to know about the database's tables,
columns, types, functions, privileges and RLS flags, read from the system catalogue.

One implementation for both surfaces; each service keeps its own instance on its own
pool, with its own freshness: REST re-reads a table it has not read for `max_age`
seconds (PostgREST reloads its schema cache on DDL); Realtime keeps shapes until a
relation message says a table changed (`invalidate`), and re-reads the RLS flags and
privileges of the tables in every batch of changes (`refresh`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

MISS_RETRY_S = 0.25  # a table not found is looked for again after this long, not sooner
MAX_ENTRIES = 10_000  # tables (and misses) remembered; past it the cache starts afresh


@dataclass(slots=True, eq=False)
class Table:
    """A relation's shape (or, for REST, the rows a function returns)."""

    name: str
    columns: dict[str, str]  # name -> SQL type as format_type() writes it, in attnum order
    pk: tuple[str, ...] = ()  # primary-key columns, in the key's order
    schema: str = "public"
    oid: int = 0
    typnames: dict[str, str] = field(default_factory=dict)  # name -> pg_type.typname
    generated: frozenset[str] = frozenset()  # generated columns (an INSERT may not name)
    rls: bool = False  # row level security enabled (re-read by `Catalog.refresh`)
    acl: str = ""  # fingerprint of the table's and its columns' privileges

    @property
    def insertable(self) -> list[str]:
        return [c for c in self.columns if c not in self.generated]

    @property
    def pk_types(self) -> list[str]:
        return [self.columns[c] for c in self.pk]


@dataclass(slots=True)
class Function:
    """One overload of a function, as REST calls it."""

    arg_types: dict[str, str]  # input parameter -> SQL type, in order
    required: list[str]  # parameters without a default
    returns_set: bool
    composite: bool
    returns_void: bool
    columns: dict[str, str]  # of each row it returns (composite results), in order


@dataclass(slots=True)
class PgType:
    oid: int
    name: str  # pg_type.typname
    elem_name: str | None  # for arrays: the element's typname


# The table's RLS flag and a fingerprint of its privileges (table and column ACLs).
_TABLE_STATE = (
    "select c.oid, c.relrowsecurity, md5(coalesce(c.relacl::text, '') || '|' || "
    "coalesce((select string_agg(coalesce(a.attacl::text, ''), ',' order by a.attnum) "
    "from pg_attribute a where a.attrelid = c.oid and a.attnum > 0), '')) "
    "from pg_class c"
)
_RELATION_KINDS = "('r', 'v', 'm', 'p', 'f')"  # tables, views, materialized, partitioned, foreign


class Catalog:
    """Cached catalogue facts. `max_age`: seconds a table's shape is trusted (None: until
    `invalidate`)."""

    def __init__(self, pool: AsyncConnectionPool[Any], *, max_age: float | None = None) -> None:
        self.pool = pool
        self.max_age = max_age
        self._tables: dict[tuple[str, str], tuple[Table | None, float]] = {}
        self._types: dict[int, PgType] = {}
        self._privs: dict[tuple[str, int], frozenset[str]] = {}
        self._published: set[tuple[str, str]] | None = None
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """A table changed shape: read every table anew on next use."""
        self._tables.clear()
        self._privs.clear()
        self._published = None

    # --- tables --------------------------------------------------------------------------

    def _cached(self, key: tuple[str, str], now: float) -> tuple[bool, Table | None]:
        entry = self._tables.get(key)
        if entry is None:
            return False, None
        found, at = entry
        if found is None:
            return now - at <= MISS_RETRY_S, None
        return self.max_age is None or now - at <= self.max_age, found

    async def table(self, schema: str, name: str) -> Table | None:
        """The relation `schema.name`, from the cache while it is fresh."""
        key = (schema, name)
        asked = time.monotonic()
        fresh, found = self._cached(key, asked)
        if fresh:
            return found
        async with self._lock:
            entry = self._tables.get(key)
            if entry is not None and entry[1] >= asked:  # read while we waited
                return entry[0]
            found = await self._read_table(schema, name)
            if len(self._tables) >= MAX_ENTRIES:
                self._tables.clear()
            self._tables[key] = (found, time.monotonic())
        return found

    async def _read_table(self, schema: str, name: str) -> Table | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                _TABLE_STATE + " join pg_namespace n on n.oid = c.relnamespace "
                f"where n.nspname = %s and c.relname = %s and c.relkind in {_RELATION_KINDS}",
                (schema, name),
            )
            row = await cur.fetchone()
            if row is None:
                return None
            oid, rls, acl = row
            cur = await conn.execute(
                "select a.attname, t.typname, format_type(a.atttypid, a.atttypmod), "
                "a.attgenerated <> '' "
                "from pg_attribute a join pg_type t on t.oid = a.atttypid "
                "where a.attrelid = %s and a.attnum > 0 and not a.attisdropped "
                "order by a.attnum",
                (oid,),
            )
            cols = await cur.fetchall()
            cur = await conn.execute(
                "select a.attname from pg_index i "
                "cross join lateral unnest(i.indkey::int2[]) with ordinality k(attnum, ord) "
                "join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum "
                "where i.indrelid = %s and i.indisprimary order by k.ord",
                (oid,),
            )
            pk = tuple(r[0] for r in await cur.fetchall())
        return Table(
            name,
            {r[0]: r[2] for r in cols},
            pk,
            schema,
            oid,
            {r[0]: r[1] for r in cols},
            frozenset(r[0] for r in cols if r[3]),
            bool(rls),
            str(acl),
        )

    async def refresh(self, tables: list[Table]) -> None:
        """Re-read the RLS flag and privileges of these tables (one query), so `alter table
        … enable/disable row level security`, grants and revokes apply to the next change."""
        if not tables:
            return
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                _TABLE_STATE + " where c.oid = any(%s)", ([t.oid for t in tables],)
            )
            state = {r[0]: (bool(r[1]), str(r[2])) for r in await cur.fetchall()}
        for table in tables:
            now = state.get(table.oid)
            if now is None:
                continue  # dropped: the relation message will follow
            rls, acl = now
            if rls != table.rls:
                log.info(
                    "row level security on %s.%s is now %s",
                    table.schema,
                    table.name,
                    "enabled" if rls else "disabled",
                )
                table.rls = rls
            if acl != table.acl:
                table.acl = acl
                for key in [k for k in self._privs if k[1] == table.oid]:
                    del self._privs[key]

    async def selectable(self, role: str, table: Table) -> frozenset[str]:
        """The columns `role` may SELECT (none for an unknown role)."""
        key = (role, table.oid)
        cols = self._privs.get(key)
        if cols is None:
            async with self.pool.connection() as conn:
                try:
                    cur = await conn.execute(
                        "select attname from pg_attribute where attrelid = %s and attnum > 0 "
                        "and not attisdropped "
                        "and has_column_privilege(%s, attrelid, attnum, 'SELECT')",
                        (table.oid, role),
                    )
                    cols = frozenset(r[0] for r in await cur.fetchall())
                except psycopg.Error:  # unknown role
                    cols = frozenset()
            self._privs[key] = cols
        return cols

    # --- types, publication, functions ---------------------------------------------------

    async def type_of(self, oid: int) -> PgType:
        t = self._types.get(oid)
        if t is None:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "select t.typname, e.typname from pg_type t "
                    "left join pg_type e on e.oid = t.typelem and t.typcategory = 'A' "
                    "where t.oid = %s",
                    (oid,),
                )
                row = await cur.fetchone()
            t = PgType(oid, row[0] if row else "text", row[1] if row else None)
            self._types[oid] = t
        return t

    async def publication(self, *, refresh: bool = False) -> set[tuple[str, str]]:
        """(schema, table) of every table in the `supabase_realtime` publication."""
        if self._published is None or refresh:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "select schemaname, tablename from pg_publication_tables "
                    "where pubname = 'supabase_realtime'"
                )
                self._published = {(r[0], r[1]) for r in await cur.fetchall()}
        return self._published

    async def functions(self, schema: str, name: str) -> list[Function]:
        """Every overload of `schema.name` (read anew on each call)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "select coalesce(p.proargnames, '{}'::text[]), "
                "coalesce(p.proargmodes::text[], '{}'::text[]), "
                "array(select format_type(u.t, null) from unnest(p.proargtypes::oid[]) "
                "  with ordinality u(t, o) order by u.o), "
                "p.pronargdefaults, p.proretset, t.typtype in ('c', 'p') "
                "  and p.prorettype <> 'void'::regtype, p.prorettype = 'void'::regtype, "
                "array(select format_type(u.t, null) from "
                "  unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) "
                "  with ordinality u(t, o) order by u.o), "
                "array(select a.attname::text from pg_attribute a where a.attrelid = t.typrelid "
                "  and a.attnum > 0 and not a.attisdropped order by a.attnum), "
                "array(select format_type(a.atttypid, a.atttypmod) from pg_attribute a "
                "  where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped "
                "  order by a.attnum) "
                "from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                "join pg_type t on t.oid = p.prorettype "
                "where n.nspname = %s and p.proname = %s and p.prokind = 'f'",
                (schema, name),
            )
            rows = await cur.fetchall()
        out = []
        for (
            names,
            modes,
            in_types,
            n_defaults,
            retset,
            composite,
            void,
            all_types,
            cnames,
            ctypes,
        ) in rows:
            modes = list(modes) or ["i"] * len(in_types)
            all_names = list(names) + [""] * (len(modes) - len(names))
            in_names = [
                nm for nm, md in zip(all_names, modes, strict=False) if md in ("i", "b", "v")
            ]
            if cnames:
                columns = dict(zip(cnames, ctypes, strict=False))
            else:  # RETURNS TABLE (...) or OUT parameters
                columns = {
                    nm: ty
                    for nm, md, ty in zip(all_names, modes, all_types, strict=False)
                    if md in ("o", "b", "t") and nm
                }
            out.append(
                Function(
                    dict(zip(in_names, in_types, strict=False)),
                    in_names[: len(in_names) - int(n_defaults)],
                    bool(retset),
                    bool(composite),
                    bool(void),
                    columns,
                )
            )
        return out
