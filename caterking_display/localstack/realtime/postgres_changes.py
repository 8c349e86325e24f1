"""postgres_changes: bindings, classic filters, per-subscriber RLS and the change payload
(supabase-protocol.md §1.3–§1.8)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

import psycopg
from psycopg import sql

from .replication import UNCHANGED, Change, PgType, Relation, commit_timestamp

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

EVENTS = ("INSERT", "UPDATE", "DELETE")
CLASSIC_OPS = ("eq", "neq", "lt", "lte", "gt", "gte", "in")
BYPASS_ROLES = ("service_role", "postgres", "supabase_admin")


class BindingError(Exception):
    """A binding the server cannot subscribe; `message` is the system error text."""


def binding_id(raw: dict[str, Any]) -> int:
    """Stable integer id ≥ 1 for a binding (identical bindings get equal ids)."""
    digest = hashlib.sha1(json.dumps(raw, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:4], "big") % (1 << 27) + 1


# --- typed comparison for filters -------------------------------------------------------


def _dec(text: str) -> Any:
    return Decimal(text)


def _boolean(text: str) -> Any:
    low = text.strip().lower()
    if low in ("t", "true", "yes", "on", "1", "y"):
        return True
    if low in ("f", "false", "no", "off", "0", "n"):
        return False
    raise ValueError(f"invalid input syntax for type boolean: {text!r}")


def _ts(text: str) -> Any:
    t = text.strip()
    if re.search(r"[+-]\d\d$", t):
        t += ":00"
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def _uuid(text: str) -> Any:
    return uuid.UUID(text.strip())


KEYS: dict[str, Callable[[str], Any]] = {
    "int2": _dec,
    "int4": _dec,
    "int8": _dec,
    "numeric": _dec,
    "float4": _dec,
    "float8": _dec,
    "oid": _dec,
    "bool": _boolean,
    "timestamptz": _ts,
    "timestamp": _ts,
    "date": lambda t: datetime.fromisoformat(t.strip()).date(),
    "uuid": _uuid,
}


def compare_key(typname: str) -> Callable[[str], Any]:
    return KEYS.get(typname, lambda t: t)


@dataclass(slots=True)
class Filter:
    column: str
    op: str
    values: list[Any]  # typed with the column's compare key
    key: Callable[[str], Any]

    def matches(self, text: Any) -> bool:
        if text is None or text is UNCHANGED:
            return False
        try:
            v = self.key(str(text))
        except (ValueError, InvalidOperation):
            return False
        target = self.values[0] if self.values else None
        try:
            if self.op == "eq":
                return bool(v == target)
            if self.op == "neq":
                return bool(v != target)
            if self.op == "lt":
                return bool(v < target)
            if self.op == "lte":
                return bool(v <= target)
            if self.op == "gt":
                return bool(v > target)
            if self.op == "gte":
                return bool(v >= target)
            if self.op == "in":
                return v in self.values
        except TypeError:
            return False
        return False


def split_filter(text: str) -> tuple[str, str, str]:
    """`col=op.value` → (col, op, value); BindingError with Supabase's words otherwise."""
    m = re.fullmatch(r"([^=]+)=([a-z]+)\.(.*)", text, re.S)
    if not m or m.group(2) not in CLASSIC_OPS:
        parts = text.split("=", 1)
        raise BindingError(f"Error parsing `filter` params: {json.dumps(parts)}")
    return m.group(1), m.group(2), m.group(3)


def parse_in_values(text: str) -> list[str]:
    if not (text.startswith("(") and text.endswith(")")):
        raise ValueError("in needs (a,b,c)")
    body = text[1:-1]
    out: list[str] = []
    buf: list[str] = []
    quoted = False
    i = 0
    while i < len(body):
        c = body[i]
        if quoted:
            if c == "\\" and i + 1 < len(body):
                i += 1
                buf.append(body[i])
            elif c == '"':
                quoted = False
            else:
                buf.append(c)
        elif c == '"':
            quoted = True
        elif c == ",":
            out.append("".join(buf).strip())
            buf = []
        else:
            buf.append(c)
        i += 1
    out.append("".join(buf).strip())
    if len(out) > 100:
        raise ValueError("too many values")
    return out


# --- catalog ----------------------------------------------------------------------------


@dataclass(slots=True)
class TableInfo:
    oid: int
    schema: str
    name: str
    columns: list[tuple[str, str]]  # (name, typname) in attnum order
    pk: list[str]
    rls: bool
    pk_types: list[str] = field(default_factory=list)  # format_type of each pk column


class Catalog:
    """Cached catalog facts: types, tables, primary keys, RLS flags, column privileges."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool
        self.types: dict[int, PgType] = {}
        self.tables: dict[tuple[str, str], TableInfo] = {}
        self.by_oid: dict[int, TableInfo] = {}
        self.privs: dict[tuple[str, int], frozenset[str]] = {}
        self.published: set[tuple[str, str]] | None = None

    def invalidate(self, rel: Relation | None = None) -> None:
        self.tables.clear()
        self.by_oid.clear()
        self.privs.clear()
        self.published = None

    async def type_of(self, oid: int) -> PgType:
        t = self.types.get(oid)
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
            self.types[oid] = t
        return t

    async def publication(self) -> set[tuple[str, str]]:
        if self.published is None:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "select schemaname, tablename from pg_publication_tables "
                    "where pubname = 'supabase_realtime'"
                )
                self.published = {(r[0], r[1]) for r in await cur.fetchall()}
        return self.published

    async def table(self, schema: str, name: str) -> TableInfo | None:
        key = (schema, name)
        info = self.tables.get(key)
        if info is not None:
            return info
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "select c.oid, c.relrowsecurity from pg_class c "
                "join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = %s and c.relname = %s and c.relkind in ('r', 'p')",
                (schema, name),
            )
            row = await cur.fetchone()
            if row is None:
                return None
            oid, rls = row
            cur = await conn.execute(
                "select a.attname, t.typname, format_type(a.atttypid, a.atttypmod), "
                "coalesce(a.attnum = any(i.indkey), false) "
                "from pg_attribute a join pg_type t on t.oid = a.atttypid "
                "left join pg_index i on i.indrelid = a.attrelid and i.indisprimary "
                "where a.attrelid = %s and a.attnum > 0 and not a.attisdropped "
                "order by a.attnum",
                (oid,),
            )
            rows = await cur.fetchall()
        info = TableInfo(
            oid,
            schema,
            name,
            [(r[0], r[1]) for r in rows],
            [r[0] for r in rows if r[3]],
            bool(rls),
            [r[2] for r in rows if r[3]],
        )
        self.tables[key] = info
        self.by_oid[oid] = info
        return info

    async def selectable(self, role: str, info: TableInfo) -> frozenset[str]:
        key = (role, info.oid)
        cols = self.privs.get(key)
        if cols is None:
            async with self.pool.connection() as conn:
                try:
                    cur = await conn.execute(
                        "select attname from pg_attribute where attrelid = %s and attnum > 0 "
                        "and not attisdropped "
                        "and has_column_privilege(%s, attrelid, attnum, 'SELECT')",
                        (info.oid, role),
                    )
                    cols = frozenset(r[0] for r in await cur.fetchall())
                except psycopg.Error:  # unknown role
                    cols = frozenset()
            self.privs[key] = cols
        return cols


# --- bindings and subscriptions ---------------------------------------------------------


class Subscriber(Protocol):
    topic: str
    role: str
    claims_json: str
    alive: bool

    def deliver(self, ids: list[int], data_json: str) -> None: ...


@dataclass(slots=True, eq=False)
class Binding:
    raw: dict[str, Any]
    id: int
    event: str  # INSERT | UPDATE | DELETE | *
    schema: str
    table: str | None
    filter: Filter | None = None

    def wants(self, typ: str) -> bool:
        return self.event == "*" or self.event == typ


def parse_binding(raw: Any) -> Binding:
    if not isinstance(raw, dict):
        raise BindingError("Unable to subscribe to changes with given parameters.")
    event = str(raw.get("event", "*")).upper()
    if event not in EVENTS:
        event = "*"
    schema = raw.get("schema") or "public"
    table = raw.get("table")
    if table in ("*", ""):
        table = None
    return Binding(raw, binding_id(raw), event, str(schema), table)


def _unable(b: Binding) -> BindingError:
    filt = b.raw.get("filter")
    filters = f"[{filt}]" if filt else "[]"
    return BindingError(
        "Unable to subscribe to changes with given parameters. Please check Realtime is "
        f"enabled for the given connect parameters: [event: {b.raw.get('event', '*')}, "
        f"schema: {b.schema}, table: {b.table or '*'}, filters: {filters}, select: nil]"
    )


async def validate_binding(b: Binding, catalog: Catalog) -> None:
    """Check the table is published and the filter parses; sets `b.filter`."""
    published = await catalog.publication()
    if b.table is None:
        if not any(b.schema in ("*", s) for s, _ in published):
            raise _unable(b)
        if b.raw.get("filter"):
            raise BindingError(
                f"Error parsing `filter` params: {json.dumps(str(b.raw['filter']).split('=', 1))}"
            )
        return
    if (b.schema, b.table) not in published:
        raise _unable(b)
    filt = b.raw.get("filter")
    if not filt:
        return
    col, op, value = split_filter(str(filt))
    info = await catalog.table(b.schema, b.table)
    if info is None:
        raise _unable(b)
    types = dict(info.columns)
    if col not in types:
        raise BindingError(
            "Unable to subscribe to changes with given parameters. An exception happened "
            f"so please check your connect parameters: [event: {b.raw.get('event', '*')}, "
            f"schema: {b.schema}, table: {b.table}, filters: [{filt}]]. "
            f"Exception: invalid column for filter {col}"
        )
    key = compare_key(types[col])
    try:
        texts = parse_in_values(value) if op == "in" else [value]
        values = [key(t) for t in texts]
    except (ValueError, InvalidOperation) as exc:
        raise BindingError(
            f"Error parsing `filter` params: {json.dumps([col, op + '.' + value])}"
        ) from exc
    b.filter = Filter(col, op, values, key)


@dataclass(slots=True, eq=False)
class Subscription:
    sub: Subscriber
    binding: Binding


RLS_FUNCTION = """
create or replace function pg_temp.caterking_visible(p_sql text, p_keys jsonb, p_groups jsonb)
returns table(g int, i int) language plpgsql as $fn$
declare
  grp jsonb;
  gi int := 0;
  r int;
begin
  for grp in select value from jsonb_array_elements(p_groups) loop
    perform set_config('role', grp->>0, true);
    perform set_config('request.jwt.claims', grp->>1, true);
    for r in execute p_sql using p_keys loop
      g := gi; i := r; return next;
    end loop;
    gi := gi + 1;
  end loop;
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', '', true);
end
$fn$;
"""


async def install_rls_function(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.execute("set timezone to 'UTC'")
    await conn.execute(RLS_FUNCTION)
    if not conn.autocommit:
        await conn.commit()


def _visible_sql(info: TableInfo) -> str:
    conds = sql.SQL(" and ").join(
        sql.SQL("t.{} = (v.val->>{})::{}").format(
            sql.Identifier(col), sql.Literal(n), sql.SQL(info.pk_types[n])
        )
        for n, col in enumerate(info.pk)
    )
    q = sql.SQL(
        "select v.ord::int from jsonb_array_elements($1) with ordinality v(val, ord) "
        "where exists (select 1 from {}.{} t where {})"
    ).format(sql.Identifier(info.schema), sql.Identifier(info.name), conds)
    return q.as_string(None)


class Registry:
    """All postgres_changes subscriptions, keyed by (schema, table); dispatches changes."""

    def __init__(self, catalog: Catalog, rls_pool: AsyncConnectionPool[Any]) -> None:
        self.catalog = catalog
        self.rls_pool = rls_pool
        self.by_table: dict[tuple[str, str | None], list[Subscription]] = defaultdict(list)
        self.delivered = 0

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_table.values())

    def add(self, sub: Subscriber, bindings: list[Binding]) -> None:
        for b in bindings:
            self.by_table[(b.schema, b.table)].append(Subscription(sub, b))

    def remove(self, sub: Subscriber) -> None:
        for key in list(self.by_table):
            kept = [s for s in self.by_table[key] if s.sub is not sub]
            if kept:
                self.by_table[key] = kept
            else:
                del self.by_table[key]

    def _candidates(self, rel: Relation) -> list[Subscription]:
        out: list[Subscription] = []
        for key in ((rel.schema, rel.name), (rel.schema, None), ("*", None)):
            subs = self.by_table.get(key)
            if subs:
                out.extend(subs)
        return out

    async def dispatch(self, changes: list[Change]) -> None:
        """Deliver one batch of committed changes, in order."""
        if not self.by_table:
            return
        plans: list[tuple[Change, TableInfo, dict[Subscriber, list[int]]]] = []
        for ch in changes:
            cands = self._candidates(ch.relation)
            if not cands:
                continue
            info = await self.catalog.table(ch.relation.schema, ch.relation.name)
            if info is None:
                continue
            names = [c.name for c in ch.relation.columns]
            row = ch.old if ch.type == "DELETE" else ch.new
            targets: dict[Subscriber, list[int]] = {}
            for s in cands:
                b = s.binding
                if not s.sub.alive or not b.wants(ch.type):
                    continue
                if b.filter is not None:
                    try:
                        idx = names.index(b.filter.column)
                    except ValueError:
                        continue
                    if row is None or not b.filter.matches(row[idx]):
                        continue
                ids = targets.setdefault(s.sub, [])
                if b.id not in ids:
                    ids.append(b.id)
            if targets:
                plans.append((ch, info, targets))
        if not plans:
            return
        hidden = await self._rls(plans)
        for n, (ch, info, targets) in enumerate(plans):
            payloads: dict[str, str] = {}
            for sub, ids in targets.items():
                if (n, sub.role, sub.claims_json) in hidden:
                    continue
                data = payloads.get(sub.role)
                if data is None:
                    data = await self._data(ch, info, sub.role)
                    payloads[sub.role] = data
                sub.deliver(ids, data)
                self.delivered += 1

    async def _rls(
        self, plans: list[tuple[Change, TableInfo, dict[Subscriber, list[int]]]]
    ) -> set[tuple[int, str, str]]:
        """(plan index, role, claims) of INSERT/UPDATE changes a subscriber may not read."""
        work: dict[int, tuple[TableInfo, list[int], dict[tuple[str, str], None]]] = {}
        for n, (ch, info, targets) in enumerate(plans):
            if ch.type == "DELETE" or not info.rls or not info.pk:
                continue
            groups = {(s.role, s.claims_json): None for s in targets if s.role not in BYPASS_ROLES}
            if not groups:
                continue
            entry = work.setdefault(info.oid, (info, [], {}))
            entry[1].append(n)
            entry[2].update(groups)
        hidden: set[tuple[int, str, str]] = set()
        if not work:
            return hidden
        async with self.rls_pool.connection() as conn:
            for info, idxs, groups in work.values():
                names = [c.name for c in plans[idxs[0]][0].relation.columns]
                keys = []
                for n in idxs:
                    new = plans[n][0].new or []
                    keys.append([new[names.index(pk)] for pk in info.pk])
                glist = list(groups)
                cur = await conn.execute(
                    "select g, i from pg_temp.caterking_visible(%s, %s::jsonb, %s::jsonb)",
                    (_visible_sql(info), json.dumps(keys), json.dumps(glist)),
                )
                seen = {(g, i) for g, i in await cur.fetchall()}
                for gi, (role, claims) in enumerate(glist):
                    for k, n in enumerate(idxs):
                        if (gi, k + 1) not in seen:
                            hidden.add((n, role, claims))
        return hidden

    async def _data(self, ch: Change, info: TableInfo, role: str) -> str:
        cols = ch.relation.columns
        allowed = await self.catalog.selectable(role, info) if role not in BYPASS_ROLES else None
        types = [await self.catalog.type_of(c.type_oid) for c in cols]
        keep = [allowed is None or c.name in allowed for c in cols]
        columns = [
            {"name": c.name, "type": t.name} for c, t, k in zip(cols, types, keep, strict=True) if k
        ]

        def values(tup: list[Any], only: set[str] | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for c, t, k, v in zip(cols, types, keep, tup, strict=False):
                if not k or v is UNCHANGED or (only is not None and c.name not in only):
                    continue
                out[c.name] = None if v is None else t.converter()(v)
            return out

        data: dict[str, Any] = {
            "schema": info.schema,
            "table": info.name,
            "commit_timestamp": commit_timestamp(ch.commit_time),
            "type": ch.type,
            "errors": None,
            "columns": columns,
        }
        pk = set(info.pk)
        if ch.type in ("INSERT", "UPDATE"):
            data["record"] = values(ch.new or [])
        if ch.type == "UPDATE":
            data["old_record"] = (
                values(ch.old) if ch.old is not None else values(ch.new or [], only=pk)
            )
        elif ch.type == "DELETE":
            only = pk if info.rls else None
            data["old_record"] = values(ch.old or [], only=only)
        if not info.pk and ch.type != "DELETE":
            data["errors"] = ["Error 400: Bad Request, no primary key"]
        return json.dumps(data, separators=(",", ":"), default=str)
