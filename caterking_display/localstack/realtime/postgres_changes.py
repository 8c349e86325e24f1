"""postgres_changes: bindings, classic filters, per-subscriber RLS and the change payload
(supabase-protocol.md §1.3–§1.8)."""

from __future__ import annotations

import asyncio
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
from .serializers import V2

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

EVENTS = ("INSERT", "UPDATE", "DELETE")
CLASSIC_OPS = ("eq", "neq", "lt", "lte", "gt", "gte", "in")
BYPASS_ROLES = ("service_role", "postgres", "supabase_admin")
MAX_RECORD_BYTES = 1 << 20  # rows over this get Error 413 and only small values (§1.8)
MAX_VALUE_BYTES_413 = 64
ERR_NO_PK = "Error 400: Bad Request, no primary key"
ERR_UNAUTHORIZED = "Error 401: Unauthorized"
ERR_TOO_LARGE = "Error 413: Payload Too Large"


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
        return self.matches_typed(_parse(self.key, text))

    def matches_typed(self, v: Any) -> bool:
        if v is _NO_VALUE:
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


_NO_VALUE = object()


def _parse(key: Callable[[str], Any], text: Any) -> Any:
    if text is None or text is UNCHANGED:
        return _NO_VALUE
    try:
        return key(str(text))
    except (ValueError, InvalidOperation):
        return _NO_VALUE


def _typed(f: Filter, names: list[str], row: list[Any] | None) -> Any:
    """The row's value of the filter's column, parsed once per change for all bindings."""
    try:
        idx = names.index(f.column)
    except ValueError:
        return _NO_VALUE
    if row is None or idx >= len(row):
        return _NO_VALUE
    return _parse(f.key, row[idx])


def encode_change(topic: str, vsn: str, ids: list[int], data_json: str) -> str:
    """A postgres_changes frame; `data_json` is serialised once per change and role."""
    payload = f'{{"ids":{json.dumps(ids)},"data":{data_json}}}'
    if vsn == V2:
        return f'[null,null,{json.dumps(topic)},"postgres_changes",{payload}]'
    return (
        f'{{"topic":{json.dumps(topic)},"event":"postgres_changes","payload":{payload},"ref":null}}'
    )


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

    async def publication(self, *, refresh: bool = False) -> set[tuple[str, str]]:
        if self.published is None or refresh:
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
    rls_key: tuple[str, str]  # claims that may decide RLS (token-timing claims left out)
    alive: bool

    @property
    def vsn(self) -> str: ...

    def send_frame(self, frame: str) -> None: ...


@dataclass(slots=True, eq=False)
class Binding:
    raw: dict[str, Any]
    id: int
    event: str  # INSERT | UPDATE | DELETE | *
    schema: str
    table: str | None
    filter: Filter | None = None
    select: tuple[str, ...] | None = None  # set by validate_binding from raw["select"]

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


def _select_text(b: Binding) -> str:
    sel = b.raw.get("select")
    if not sel:
        return "nil"
    if isinstance(sel, list):
        return "[" + ", ".join(json.dumps(str(c)) for c in sel) + "]"
    return json.dumps(sel)


def _unable(b: Binding) -> BindingError:
    filt = b.raw.get("filter")
    filters = f"[{filt}]" if filt else "[]"
    return BindingError(
        "Unable to subscribe to changes with given parameters. Please check Realtime is "
        f"enabled for the given connect parameters: [event: {b.raw.get('event', '*')}, "
        f"schema: {b.schema}, table: {b.table or '*'}, filters: {filters}, "
        f"select: {_select_text(b)}]"
    )


def _exception(b: Binding, reason: str) -> BindingError:
    filt = b.raw.get("filter")
    filters = f"[{filt}]" if filt else "[]"
    return BindingError(
        "Unable to subscribe to changes with given parameters. An exception happened "
        f"so please check your connect parameters: [event: {b.raw.get('event', '*')}, "
        f"schema: {b.schema}, table: {b.table or '*'}, filters: {filters}, "
        f"select: {_select_text(b)}]. Exception: {reason}"
    )


def _raw_select(b: Binding) -> list[str] | None:
    """The binding's `select` list (None when absent or empty); BindingError if mis-shaped."""
    sel = b.raw.get("select")
    if sel is None or sel == []:
        return None
    if not isinstance(sel, list) or not all(isinstance(c, str) and c for c in sel):
        raise _exception(b, "select must be a list of column names")
    return sel


async def validate_binding(b: Binding, catalog: Catalog) -> None:
    """Check the table is published and the filter parses; sets `b.filter`."""
    published = await catalog.publication()
    select = _raw_select(b)
    if b.table is None:
        if not any(b.schema in ("*", s) for s, _ in published):
            published = await catalog.publication(refresh=True)
            if not any(b.schema in ("*", s) for s, _ in published):
                raise _unable(b)
        if select is not None:
            raise _exception(b, "select is not allowed with wildcards")
        if b.raw.get("filter"):
            raise BindingError(
                f"Error parsing `filter` params: {json.dumps(str(b.raw['filter']).split('=', 1))}"
            )
        return
    if b.schema == "*" and select is not None:
        raise _exception(b, "select is not allowed with wildcards")
    if (b.schema, b.table) not in published:
        # Added to the publication since the last look? (No relation message yet.)
        if (b.schema, b.table) not in await catalog.publication(refresh=True):
            raise _unable(b)
    filt = b.raw.get("filter")
    if not filt and select is None:
        return
    info = await catalog.table(b.schema, b.table)
    if info is None:
        raise _unable(b)
    types = dict(info.columns)
    if select is not None:
        for col in select:
            if col not in types:
                raise _exception(b, f"invalid column for select {col}")
        b.select = tuple(dict.fromkeys(select))
    if not filt:
        return
    col, op, value = split_filter(str(filt))
    if col not in types:
        raise _exception(b, f"invalid column for filter {col}")
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


# Claims that differ between tokens of one session (refresh timing) but not in what a
# policy decides: subscribers whose claims differ only in these share one RLS check.
TOKEN_TIMING_CLAIMS = ("exp", "iat", "nbf", "session_id", "amr", "jti")


def rls_key(role: str, claims: dict[str, Any]) -> tuple[str, str]:
    kept = {k: v for k, v in claims.items() if k not in TOKEN_TIMING_CLAIMS}
    return role, json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)


def _visible_function(info: TableInfo) -> tuple[str, str]:
    """(name, DDL) of a session-local function that, for a jsonb array of [role, claims]
    groups and a jsonb array of primary keys, returns per group the 1-based positions of
    the keys whose rows that role and those claims may SELECT under RLS.

    The walsender may send a commit a moment before the committing backend has left the
    proc array (WAL flush precedes visibility), so the function first waits, briefly and
    bounded, until the batch's transactions are visible to new snapshots.

    Static SQL, so PL/pgSQL caches its plan (re-planned only when the role changes; the
    groups come sorted by role). A group whose check raises (unknown role, no SELECT
    privilege, a policy error) gets NULL: nothing visible."""
    name = f"caterking_visible_{info.oid}"
    conds = sql.SQL(" and ").join(
        sql.SQL("t.{} = (v.val->>{})::{}").format(
            sql.Identifier(col), sql.Literal(n), sql.SQL(info.pk_types[n])
        )
        for n, col in enumerate(info.pk)
    )
    query = sql.SQL(
        "select array_agg(v.ord::int) from jsonb_array_elements(p_keys) "
        "with ordinality v(val, ord) where exists (select 1 from {}.{} t where {})"
    ).format(sql.Identifier(info.schema), sql.Identifier(info.name), conds)
    ddl = f"""
create or replace function pg_temp.{name}(p_keys jsonb, p_groups jsonb, p_xids bigint[])
returns table(g int, ords int[]) language plpgsql as $fn$
declare
  grp jsonb;
  cur_role text := '';
  snap pg_snapshot;
  xm bigint;
  tries int := 0;
begin
  -- The walsender may send a commit before the committing backend has left the proc
  -- array (WAL flush precedes visibility): wait until our snapshots see the batch's
  -- transactions (32-bit xids, widened against the snapshot's xmax).
  loop
    snap := pg_current_snapshot();
    xm := pg_snapshot_xmax(snap)::text::bigint;
    exit when not exists (
      select 1 from unnest(p_xids) x
      where not pg_visible_in_snapshot(
        (xm + (((x - (xm & 4294967295)) + 2147483648) & 4294967295) - 2147483648)
          ::text::xid8, snap));
    exit when tries >= 200;
    tries := tries + 1;
    perform pg_sleep(0.0002);
  end loop;
  g := 0;
  for grp in select value from jsonb_array_elements(p_groups) loop
    begin
      if grp->>0 <> cur_role then
        cur_role := grp->>0;
        perform set_config('role', cur_role, true);
      end if;
      perform set_config('request.jwt.claims', grp->>1, true);
      {query.as_string(None)} into ords;
    exception when others then
      ords := null;
      cur_role := '';
    end;
    return next;
    g := g + 1;
  end loop;
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', '', true);
end
$fn$;
"""
    return name, ddl


Select = tuple[str, ...] | None
Target = tuple[Subscriber, Select]  # one frame per subscriber and distinct `select`
# (change, table, {target: binding ids}, {role: error row text for this change})
Plan = tuple[Change, TableInfo, dict[Target, list[int]], dict[str, str]]
MIN_GROUPS_PER_LANE = 8  # fewer groups than this per connection: not worth a split


class _Lane:
    """One RLS connection with its session-local visibility functions."""

    def __init__(self) -> None:
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.functions: set[int] = set()

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            await conn.close()

    async def run(
        self, dsn: str, items: list[tuple[int, int, TableInfo, list[Any], list[Any], list[int]]]
    ) -> list[dict[int, list[int]]]:
        if self.conn is None or self.conn.closed or self.conn.broken:
            self.conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
            await self.conn.execute("set application_name to 'caterking-realtime-rls'")
            self.functions.clear()
        conn = self.conn
        for _ci, _off, info, _keys, _groups, _xids in items:
            if info.oid not in self.functions:
                _name, ddl = _visible_function(info)
                await conn.execute(ddl)
                self.functions.add(info.oid)
        out: list[dict[int, list[int]]] = []
        async with conn.pipeline():
            curs = [
                await conn.execute(
                    f"select g, ords from pg_temp.caterking_visible_{info.oid}"
                    "(%s::jsonb, %s::jsonb, %s::bigint[])",
                    (json.dumps(keys), json.dumps(groups), xids),
                )
                for _ci, _off, info, keys, groups, xids in items
            ]
            for cur in curs:
                out.append({g: ords for g, ords in await cur.fetchall()})
        return out


class Registry:
    """All postgres_changes subscriptions, keyed by (schema, table); dispatches changes.

    Per batch of committed changes: filters in Python, then all RLS checks in one round
    trip on a dedicated connection (one call per table, pipelined), then each distinct
    payload is serialised once and the same frame is queued to every socket that gets it.
    """

    def __init__(
        self,
        catalog: Catalog,
        dsn: str,
        *,
        rls_connections: int = 2,
        max_record_bytes: int = MAX_RECORD_BYTES,
    ) -> None:
        self.catalog = catalog
        self.dsn = dsn
        self.max_record_bytes = max_record_bytes
        self.by_table: dict[tuple[str, str | None], list[Subscription]] = defaultdict(list)
        self.delivered = 0
        self.rls_calls = 0
        self._lanes = [_Lane() for _ in range(rls_connections)]

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

    def invalidate(self) -> None:
        """A table changed shape: re-create its RLS function on next use."""
        for lane in self._lanes:
            lane.functions.clear()

    async def close(self) -> None:
        for lane in self._lanes:
            await lane.close()

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
        plans: list[Plan] = []
        for ch in changes:
            cands = self._candidates(ch.relation)
            if not cands:
                continue
            info = await self.catalog.table(ch.relation.schema, ch.relation.name)
            if info is None:
                continue
            names = [c.name for c in ch.relation.columns]
            row = ch.old if ch.type == "DELETE" else ch.new
            typed: dict[tuple[str, Callable[[str], Any]], Any] = {}
            targets: dict[Target, list[int]] = {}
            errors: dict[str, str | None] = {}
            for s in cands:
                b = s.binding
                if not s.sub.alive or not b.wants(ch.type):
                    continue
                role = s.sub.role
                if role not in errors:
                    errors[role] = await self._row_error(ch, info, role)
                f = b.filter
                # An error row goes to every subscriber of the role, filter or not
                # (realtime.apply_rls checks the filters only for readable rows).
                if f is not None and errors[role] is None:
                    tkey = (f.column, f.key)
                    if tkey not in typed:
                        typed[tkey] = _typed(f, names, row)
                    if not f.matches_typed(typed[tkey]):
                        continue
                ids = targets.setdefault((s.sub, b.select), [])
                if b.id not in ids:
                    ids.append(b.id)
            if targets:
                errs = {r: e for r, e in errors.items() if e is not None}
                plans.append((ch, info, targets, errs))
        if not plans:
            return
        hidden = await self._rls(plans)
        for n, (ch, info, targets, errs) in enumerate(plans):
            payloads: dict[tuple[str, Select], str] = {}
            frames: dict[tuple[str, Select, str, str, tuple[int, ...]], str] = {}
            for (sub, sel), ids in targets.items():
                err = errs.get(sub.role)
                if err is None and (n, sub.rls_key) in hidden:
                    continue
                dkey = (sub.role, sel)
                data = payloads.get(dkey)
                if data is None:
                    data = await self._data(ch, info, sub.role, sel, err)
                    payloads[dkey] = data
                fkey = (sub.role, sel, sub.vsn, sub.topic, tuple(ids))
                frame = frames.get(fkey)
                if frame is None:
                    frame = encode_change(sub.topic, sub.vsn, ids, data)
                    frames[fkey] = frame
                sub.send_frame(frame)
                self.delivered += 1

    async def _row_error(self, ch: Change, info: TableInfo, role: str) -> str | None:
        """The error row an INSERT/UPDATE becomes for `role` (§1.8): no primary key → 400,
        no SELECT on every primary-key column → 401. DELETEs never get one."""
        if ch.type == "DELETE":
            return None
        if not info.pk:
            return ERR_NO_PK
        if role in BYPASS_ROLES:
            return None
        allowed = await self.catalog.selectable(role, info)
        if not all(col in allowed for col in info.pk):
            return ERR_UNAUTHORIZED
        return None

    async def _rls(self, plans: list[Plan]) -> set[tuple[int, tuple[str, str]]]:
        """(plan index, rls key) of INSERT/UPDATE changes a subscriber may not read."""
        work: dict[int, tuple[TableInfo, list[int], dict[tuple[str, str], str]]] = {}
        hidden: set[tuple[int, tuple[str, str]]] = set()
        for n, (ch, info, targets, errs) in enumerate(plans):
            if ch.type == "DELETE" or not info.rls or not info.pk:
                continue
            entry = work.setdefault(info.oid, (info, [], {}))
            entry[1].append(n)
            groups = entry[2]
            for s, _sel in targets:
                if s.role in BYPASS_ROLES or s.role in errs:
                    continue  # error rows are not checked against RLS
                if s.rls_key not in groups:
                    groups[s.rls_key] = s.claims_json  # one member's claims stand for all
        work = {oid: w for oid, w in work.items() if w[2]}
        if not work:
            return hidden
        calls = []
        for info, idxs, groups in work.values():
            names = [c.name for c in plans[idxs[0]][0].relation.columns]
            keys = []
            for n in idxs:
                new = plans[n][0].new or []
                keys.append([new[names.index(pk)] for pk in info.pk])
            glist = sorted(groups)  # by role: the plan is re-made only when it changes
            xids = sorted({plans[n][0].xid for n in idxs})
            group_claims = [[r, groups[(r, c)]] for r, c in glist]
            calls.append((info, idxs, glist, keys, group_claims, xids))
        try:
            results = await self._call_visible(calls)
        except psycopg.Error:
            log.exception("RLS check failed; withholding the batch's rows")
            await self.close()
            results = [{} for _ in calls]
        for (_info, idxs, glist, *_rest), seen in zip(calls, results, strict=True):
            for gi, gkey in enumerate(glist):
                ords = seen.get(gi) or ()
                for k, n in enumerate(idxs):
                    if k + 1 not in ords:
                        hidden.add((n, gkey))
        return hidden

    async def _call_visible(
        self, calls: list[tuple[TableInfo, list[int], list[Any], list[Any], list[Any], list[int]]]
    ) -> list[dict[int, list[int]]]:
        """Per call, {group index: visible key positions}. Many groups are split across
        the lanes (connections) and checked in parallel: the checks cost Postgres CPU
        per group, and a second core halves the wait."""
        self.rls_calls += 1
        n_groups = max(len(c[4]) for c in calls)
        lanes = min(len(self._lanes), max(1, n_groups // MIN_GROUPS_PER_LANE))
        work: list[list[tuple[int, int, TableInfo, list[Any], list[Any], list[int]]]] = [
            [] for _ in range(lanes)
        ]
        for ci, (info, _idxs, _glist, keys, groups, xids) in enumerate(calls):
            size = -(-len(groups) // lanes)
            for li in range(lanes):
                part = groups[li * size : (li + 1) * size]
                if part:
                    work[li].append((ci, li * size, info, keys, part, xids))
        parts = await asyncio.gather(
            *(lane.run(self.dsn, items) for lane, items in zip(self._lanes, work, strict=False))
        )
        out: list[dict[int, list[int]]] = [{} for _ in calls]
        for items, results in zip(work, parts, strict=True):
            for (ci, offset, *_), seen in zip(items, results, strict=True):
                for g, ords in seen.items():
                    out[ci][g + offset] = ords
        return out

    def _too_large(self, ch: Change) -> bool:
        """Whether the change's values exceed max_record_bytes (the real server measures
        its wal2json record; here the text of the new and old values)."""
        total = 0
        for tup in (ch.new, ch.old):
            for v in tup or ():
                if isinstance(v, str):
                    total += len(v.encode())
        return total > self.max_record_bytes

    async def _data(
        self, ch: Change, info: TableInfo, role: str, sel: Select = None, error: str | None = None
    ) -> str:
        data: dict[str, Any] = {
            "schema": info.schema,
            "table": info.name,
            "commit_timestamp": commit_timestamp(ch.commit_time),
            "type": ch.type,
            "errors": None,
            "columns": [],
        }
        if error is not None:
            # The real server sends schema/table/type only; realtime-py drops a row without
            # columns/commit_timestamp, so those stay, with no column and no value.
            data["errors"] = [error]
            if ch.type in ("INSERT", "UPDATE"):
                data["record"] = {}
            if ch.type == "UPDATE":
                data["old_record"] = {}
            return json.dumps(data, separators=(",", ":"))
        cols = ch.relation.columns
        pk = set(info.pk)
        allowed = await self.catalog.selectable(role, info) if role not in BYPASS_ROLES else None
        types = [await self.catalog.type_of(c.type_oid) for c in cols]
        keep = [
            (allowed is None or c.name in allowed)
            and (sel is None or c.name in sel or c.name in pk)
            for c in cols
        ]
        data["columns"] = [
            {"name": c.name, "type": t.name} for c, t, k in zip(cols, types, keep, strict=True) if k
        ]
        too_large = self._too_large(ch)

        def values(tup: list[Any], only: set[str] | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for c, t, k, v in zip(cols, types, keep, tup, strict=False):
                if not k or v is UNCHANGED or (only is not None and c.name not in only):
                    continue
                value = None if v is None else t.converter()(v)
                if too_large and (
                    value is None
                    or len(json.dumps(value, ensure_ascii=False, default=str).encode())
                    > MAX_VALUE_BYTES_413
                ):
                    continue  # as octet_length(value::text) <= 64 (NULLs fail it too)
                out[c.name] = value
            return out

        if ch.type in ("INSERT", "UPDATE"):
            data["record"] = values(ch.new or [])
        if ch.type == "UPDATE":
            data["old_record"] = (
                values(ch.old) if ch.old is not None else values(ch.new or [], only=pk)
            )
        elif ch.type == "DELETE":
            only = pk if info.rls else None
            data["old_record"] = values(ch.old or [], only=only)
        if too_large:
            data["errors"] = [ERR_TOO_LARGE]
        return json.dumps(data, separators=(",", ":"), default=str)
