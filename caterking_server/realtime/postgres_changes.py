"""postgres_changes: bindings, classic filters, per-subscriber RLS and the change payload
(supabase-protocol.md §1.3–§1.8)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import operator
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

import psycopg
from psycopg import sql

from caterking_server.realtime.replication import (
    UNCHANGED,
    Change,
    PgType,
    Relation,
    commit_timestamp,
)
from caterking_server.realtime.serializers import V2

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
    value = Decimal(text)
    if value.is_snan():  # signals on every comparison, and cannot be hashed
        raise ValueError("invalid input syntax for type numeric")
    return value


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


def _same(text: str) -> Any:
    return text


def compare_key(typname: str) -> Callable[[str], Any]:
    # One function object per type, so equal filters share one index (Registry).
    return KEYS.get(typname, _same)


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
        except (TypeError, ArithmeticError):  # naive vs aware times, NaN ordering
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


def _restorable(ch: Change) -> bool:
    """Whether a DELETE's old row is whole (REPLICA IDENTITY FULL), so it can be put
    back for a moment to ask who could read it."""
    return ch.old is not None and not any(v is UNCHANGED for v in ch.old)


def encode_change(topic: str, vsn: str, ids: list[int], data_json: str) -> bytes:
    """A postgres_changes text frame as UTF-8 bytes (queued as is to every socket that
    gets it); `data_json` is serialised once per change and role."""
    payload = f'{{"ids":{json.dumps(ids)},"data":{data_json}}}'
    if vsn == V2:
        return f'[null,null,{json.dumps(topic)},"postgres_changes",{payload}]'.encode()
    return (
        f'{{"topic":{json.dumps(topic)},"event":"postgres_changes","payload":{payload},"ref":null}}'
    ).encode()


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
    # format_type of every column, and the columns an INSERT may name (not generated)
    col_types: dict[str, str] = field(default_factory=dict)
    insertable: list[str] = field(default_factory=list)
    acl: str = ""  # fingerprint of the table's and its columns' privileges


# The table's RLS flag and a fingerprint of its privileges (table and column ACLs):
# re-read for every batch, so `alter table … enable/disable row level security` and
# grants or revokes take effect on the next change, not at the next restart.
_TABLE_STATE = (
    "select c.oid, c.relrowsecurity, md5(coalesce(c.relacl::text, '') || '|' || "
    "coalesce((select string_agg(coalesce(a.attacl::text, ''), ',' order by a.attnum) "
    "from pg_attribute a where a.attrelid = c.oid and a.attnum > 0), '')) "
    "from pg_class c"
)


class Catalog:
    """Cached catalog facts: types, tables, primary keys, RLS flags, column privileges.

    Shapes (columns, keys, types) are cached until a table changes shape; the RLS flag
    and privileges are re-checked per batch of changes (`refresh`)."""

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
                _TABLE_STATE + " join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = %s and c.relname = %s and c.relkind in ('r', 'p')",
                (schema, name),
            )
            row = await cur.fetchone()
            if row is None:
                return None
            oid, rls, acl = row
            cur = await conn.execute(
                "select a.attname, t.typname, format_type(a.atttypid, a.atttypmod), "
                "coalesce(a.attnum = any(i.indkey), false), a.attgenerated <> '' "
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
            {r[0]: r[2] for r in rows},
            [r[0] for r in rows if not r[4]],
            str(acl),
        )
        self.tables[key] = info
        self.by_oid[oid] = info
        return info

    async def refresh(self, infos: list[TableInfo]) -> None:
        """Re-read the RLS flag and privileges of these tables (one query)."""
        if not infos:
            return
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                _TABLE_STATE + " where c.oid = any(%s)", ([i.oid for i in infos],)
            )
            state = {r[0]: (bool(r[1]), str(r[2])) for r in await cur.fetchall()}
        for info in infos:
            now = state.get(info.oid)
            if now is None:
                continue  # dropped: the relation message will follow
            rls, acl = now
            if rls != info.rls:
                log.info(
                    "row level security on %s.%s is now %s",
                    info.schema,
                    info.name,
                    "enabled" if rls else "disabled",
                )
                info.rls = rls
            if acl != info.acl:
                info.acl = acl
                for key in [k for k in self.privs if k[1] == info.oid]:
                    del self.privs[key]

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

    def send_frame(self, frame: bytes) -> None: ...


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
    """A binding from its join config; BindingError unless it is an object whose event,
    schema, table and filter are text (or absent)."""
    if not isinstance(raw, dict):
        raise BindingError("Unable to subscribe to changes with given parameters.")
    for key in ("event", "schema", "table", "filter"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise BindingError(
                f"Unable to subscribe to changes with given parameters: {key} must be text"
            )
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
    pos: int = 0  # the binding's place in its channel's list (order of `ids`)
    role: str = ""  # the subscriber's role when registered (Registry's role counts)


# Claims that differ between tokens of one session (refresh timing) but not in what a
# policy decides: subscribers whose claims differ only in these share one RLS check.
TOKEN_TIMING_CLAIMS = ("exp", "iat", "nbf", "session_id", "amr", "jti")


def rls_key(role: str, claims: dict[str, Any]) -> tuple[str, str]:
    kept = {k: v for k, v in claims.items() if k not in TOKEN_TIMING_CLAIMS}
    return role, json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)


def _pk_query(info: TableInfo) -> sql.Composable:
    """Per group: the 1-based positions in p_keys of the rows the role may SELECT."""
    conds = sql.SQL(" and ").join(
        sql.SQL("t.{} = (v.val->>{})::{}").format(
            sql.Identifier(col), sql.Literal(n), sql.SQL(info.pk_types[n])
        )
        for n, col in enumerate(info.pk)
    )
    return sql.SQL(
        "select array_agg(v.ord::int) from jsonb_array_elements(p_keys) "
        "with ordinality v(val, ord) where exists (select 1 from {}.{} t where {})"
    ).format(sql.Identifier(info.schema), sql.Identifier(info.name), conds)


# The walsender may send a commit a moment before the committing backend has left the
# proc array (WAL flush precedes visibility): wait until our snapshots see the batch's
# transactions (32-bit xids, widened against the snapshot's xmax).
_WAIT_VISIBLE = """
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
"""

# Per group ([role, claims]): run the check as that role with those claims. A group
# whose check raises (unknown role, no SELECT privilege, a policy error) gets NULL:
# nothing visible. Groups come sorted by role, so the plan is re-made only when it
# changes.
_GROUP_LOOP = """
  for grp in select value from jsonb_array_elements(p_groups) loop
    begin
      if grp->>0 <> cur_role then
        cur_role := grp->>0;
        perform set_config('role', cur_role, true);
      end if;
      perform set_config('request.jwt.claims', grp->>1, true);
      {query} into ords;
    exception when others then
      ords := null;
      cur_role := '';
    end;
    {emit}
    g := g + 1;
  end loop;
"""


def _visible_function(info: TableInfo) -> tuple[str, str]:
    """(name, DDL) of a session-local function that, for a jsonb array of [role, claims]
    groups and a jsonb array of primary keys, returns per group the 1-based positions of
    the keys whose rows that role and those claims may SELECT under RLS. It first waits,
    briefly and bounded, until the batch's transactions are visible to new snapshots.
    Static SQL, so PL/pgSQL caches its plan."""
    name = f"caterking_visible_{info.oid}"
    loop = _GROUP_LOOP.format(query=_pk_query(info).as_string(None), emit="return next;")
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
{_WAIT_VISIBLE}
  g := 0;
{loop}
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', '', true);
end
$fn$;
"""
    return name, ddl


def _deleted_function(info: TableInfo) -> tuple[str, str]:
    """(name, DDL) of a session-local function that tells, per [role, claims] group,
    which deleted rows that role could have read: inside a subtransaction it puts the
    old rows back (as the superuser, triggers and foreign-key checks off), runs the same
    check as `_visible_function` against the table's real policies, then rolls the
    subtransaction back. Nothing is committed; a failure means nothing is visible."""
    name = f"caterking_deleted_{info.oid}"
    tbl = sql.Identifier(info.schema, info.name)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in info.insertable)
    casts = sql.SQL(", ").join(
        sql.SQL("x.{}::{}").format(sql.Identifier(c), sql.SQL(info.col_types[c]))
        for c in info.insertable
    )
    shape = sql.SQL(", ").join(
        sql.SQL("{} text").format(sql.Identifier(c)) for c in info.insertable
    )
    restore = sql.SQL(
        "insert into {} ({}) overriding system value select {} "
        "from jsonb_to_recordset(p_rows) as x({})"
    ).format(tbl, cols, casts, shape)
    loop = _GROUP_LOOP.format(
        query=_pk_query(info).as_string(None),
        emit="res := res || jsonb_build_array(jsonb_build_array(g, to_jsonb(ords)));",
    )
    ddl = f"""
create or replace function pg_temp.{name}(p_rows jsonb, p_keys jsonb, p_groups jsonb,
  p_xids bigint[])
returns table(g int, ords int[]) language plpgsql as $fn$
declare
  grp jsonb;
  cur_role text := '';
  snap pg_snapshot;
  xm bigint;
  tries int := 0;
  res jsonb := '[]';
begin
{_WAIT_VISIBLE}
  g := 0;
  begin
    perform set_config('session_replication_role', 'replica', true);
    {restore.as_string(None)};
{loop}
    raise exception using errcode = 'P0099', message = 'caterking: undo the restored rows';
  exception
    when sqlstate 'P0099' then null;
    when others then res := '[]';
  end;
  return query
    select (x->>0)::int, array(select jsonb_array_elements_text(x->1)::int)
    from jsonb_array_elements(res) x where jsonb_typeof(x->1) = 'array';
end
$fn$;
"""
    return name, ddl


Select = tuple[str, ...] | None
Target = tuple[Subscriber, Select]  # one frame per subscriber and distinct `select`
# Per target: binding id -> (its position, whether delivering it needs the RLS pass).
Ids = dict[int, tuple[int, bool]]
# (change, table, {target: ids}, {role: error row text for this change}, the targets
# with an id that needs the RLS pass)
Plan = tuple[Change, TableInfo, dict[Target, Ids], dict[str, str], set[Target]]
MIN_GROUPS_PER_LANE = 8  # fewer groups than this per connection: not worth a split
_BY_POSITION = operator.itemgetter(1)  # ids items by (position, checked)


@dataclass(slots=True)
class _Check:
    """One RLS question for one table: which of these rows may each group read?"""

    kind: str  # "visible" (INSERT/UPDATE: rows as committed) | "deleted" (old rows)
    info: TableInfo
    idxs: list[int]  # plan indexes, in key order
    glist: list[tuple[str, str]]  # rls keys, in group order
    keys: list[list[Any]]
    rows: list[dict[str, Any]]  # deleted: the old rows, column -> text
    groups: list[list[str]]  # [role, claims json] per group
    xids: list[int]


class _Lane:
    """One RLS connection with its session-local check functions."""

    def __init__(self) -> None:
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.functions: set[tuple[str, int]] = set()

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            await conn.close()

    async def run(
        self, dsn: str, items: list[tuple[int, int, _Check, list[list[str]]]]
    ) -> list[dict[int, list[int]]]:
        """Per item (call index, group offset, check, its groups): {group: positions}."""
        if self.conn is None or self.conn.closed or self.conn.broken:
            self.conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
            await self.conn.execute("set application_name to 'caterking-realtime-rls'")
            self.functions.clear()
        conn = self.conn
        for _ci, _off, check, _groups in items:
            fkey = (check.kind, check.info.oid)
            if fkey not in self.functions:
                make = _deleted_function if check.kind == "deleted" else _visible_function
                _name, ddl = make(check.info)
                await conn.execute(ddl)
                self.functions.add(fkey)
        out: list[dict[int, list[int]]] = []
        async with conn.pipeline():
            curs = []
            for _ci, _off, check, groups in items:
                if check.kind == "deleted":
                    curs.append(
                        await conn.execute(
                            f"select g, ords from pg_temp.caterking_deleted_{check.info.oid}"
                            "(%s::jsonb, %s::jsonb, %s::jsonb, %s::bigint[])",
                            (
                                json.dumps(check.rows),
                                json.dumps(check.keys),
                                json.dumps(groups),
                                check.xids,
                            ),
                        )
                    )
                else:
                    curs.append(
                        await conn.execute(
                            f"select g, ords from pg_temp.caterking_visible_{check.info.oid}"
                            "(%s::jsonb, %s::jsonb, %s::bigint[])",
                            (json.dumps(check.keys), json.dumps(groups), check.xids),
                        )
                    )
            for cur in curs:
                out.append({g: ords for g, ords in await cur.fetchall()})
        return out


class _TableSubs:
    """The subscriptions of one (schema, table) key, indexed for dispatch: no filter,
    `eq`/`in` filters by (column, value), other filters scanned, and per subscriber (for
    error rows, which go to all of a role's subscriptions). Insertion-ordered dicts make
    adding and removing one subscription O(1)."""

    __slots__ = ("by_sub", "index", "plain", "roles", "scan", "subs", "wanted")

    def __init__(self) -> None:
        self.subs: dict[Subscription, None] = {}
        self.plain: dict[Subscription, None] = {}
        self.index: dict[tuple[str, Callable[[str], Any]], dict[Any, dict[Subscription, None]]] = {}
        self.scan: dict[Subscription, None] = {}
        self.roles: dict[str, int] = {}
        self.by_sub: dict[Subscriber, dict[Subscription, None]] = {}
        # (subscriber, change type) -> {select: ids}: every binding of that subscriber
        # that wants the type, for error rows (built on first use, dropped on change).
        self.wanted: dict[tuple[Subscriber, str], dict[Select, Ids]] = {}

    def add(self, s: Subscription) -> None:
        self.subs[s] = None
        self.by_sub.setdefault(s.sub, {})[s] = None
        self._forget(s.sub)
        self.roles[s.role] = self.roles.get(s.role, 0) + 1
        f = s.binding.filter
        if f is None:
            self.plain[s] = None
        elif f.op in ("eq", "in"):
            by_value = self.index.setdefault((f.column, f.key), {})
            for v in f.values:
                by_value.setdefault(v, {})[s] = None
        else:
            self.scan[s] = None

    def remove(self, s: Subscription) -> None:
        self.subs.pop(s, None)
        mine = self.by_sub.get(s.sub)
        if mine is not None:
            mine.pop(s, None)
            if not mine:
                del self.by_sub[s.sub]
        self._forget(s.sub)
        n = self.roles.get(s.role, 0) - 1
        if n > 0:
            self.roles[s.role] = n
        else:
            self.roles.pop(s.role, None)
        f = s.binding.filter
        if f is None:
            self.plain.pop(s, None)
        elif f.op in ("eq", "in"):
            ikey = (f.column, f.key)
            by_value = self.index.get(ikey)
            if by_value is not None:
                for v in f.values:
                    bucket = by_value.get(v)
                    if bucket is not None:
                        bucket.pop(s, None)
                        if not bucket:
                            del by_value[v]
                if not by_value:
                    del self.index[ikey]
        else:
            self.scan.pop(s, None)

    def _forget(self, sub: Subscriber) -> None:
        for typ in EVENTS:
            self.wanted.pop((sub, typ), None)

    def wanted_ids(self, sub: Subscriber, typ: str) -> dict[Select, Ids]:
        key = (sub, typ)
        out = self.wanted.get(key)
        if out is None:
            out = {}
            for s in self.by_sub.get(sub, ()):
                if s.binding.wants(typ):
                    ids = out.setdefault(s.binding.select, {})
                    ids.setdefault(s.binding.id, (s.pos, False))
            self.wanted[key] = out
        return out


class Registry:
    """All postgres_changes subscriptions, keyed by (schema, table); dispatches changes.

    Per batch of committed changes: the tables' RLS flags and privileges are re-read
    (one query), filters are matched through an index (work per change grows with the
    subscriptions that match, not with all of them), then all RLS checks run in one
    round trip on a dedicated connection (one call per table, pipelined), then each
    distinct payload is serialised once and the same frame is queued to every socket
    that gets it. A filter is only ever evaluated on a row its subscriber may read: on
    columns the role may SELECT, and for a DELETE under RLS only where the subscriber
    could have read the deleted row (or on primary-key columns, which every subscriber
    of the table receives).
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
        self.by_table: dict[tuple[str, str | None], _TableSubs] = {}
        self.by_sub: dict[Subscriber, list[Subscription]] = {}
        self.delivered = 0
        self.rls_calls = 0
        self._count = 0
        self._lanes = [_Lane() for _ in range(rls_connections)]

    def __len__(self) -> int:
        return self._count

    def add(self, sub: Subscriber, bindings: list[Binding]) -> None:
        """Register `sub`'s bindings (identical bindings once: they share an id)."""
        mine = self.by_sub.setdefault(sub, [])
        seen = {json.dumps(s.binding.raw, sort_keys=True, default=str) for s in mine}
        for pos, b in enumerate(bindings):
            canon = json.dumps(b.raw, sort_keys=True, default=str)
            if canon in seen:
                continue
            seen.add(canon)
            s = Subscription(sub, b, pos, sub.role)
            key = (b.schema, b.table)
            tab = self.by_table.get(key)
            if tab is None:
                tab = self.by_table[key] = _TableSubs()
            tab.add(s)
            mine.append(s)
            self._count += 1

    def remove(self, sub: Subscriber) -> None:
        """Forget `sub`: O(its own bindings), whatever else is subscribed."""
        for s in self.by_sub.pop(sub, ()):
            key = (s.binding.schema, s.binding.table)
            tab = self.by_table.get(key)
            if tab is None:
                continue
            tab.remove(s)
            self._count -= 1
            if not tab.subs:
                del self.by_table[key]

    def invalidate(self) -> None:
        """A table changed shape: re-create its RLS functions on next use."""
        for lane in self._lanes:
            lane.functions.clear()

    async def close(self) -> None:
        for lane in self._lanes:
            await lane.close()

    def _tables(self, rel: Relation) -> list[_TableSubs]:
        out = []
        for key in ((rel.schema, rel.name), (rel.schema, None), ("*", None)):
            tab = self.by_table.get(key)
            if tab is not None:
                out.append(tab)
        return out

    async def dispatch(self, changes: list[Change]) -> None:
        """Deliver one batch of committed changes, in order."""
        if not self.by_table:
            return
        todo: list[tuple[Change, list[_TableSubs], TableInfo]] = []
        infos: dict[int, TableInfo] = {}
        for ch in changes:
            tabs = self._tables(ch.relation)
            if not tabs:
                continue
            info = await self.catalog.table(ch.relation.schema, ch.relation.name)
            if info is None:
                continue
            infos[info.oid] = info
            todo.append((ch, tabs, info))
        if not todo:
            return
        await self.catalog.refresh(list(infos.values()))
        plans: list[Plan] = []
        for ch, tabs, info in todo:
            plan = await self._plan(ch, tabs, info)
            if plan is not None:
                plans.append(plan)
        if not plans:
            return
        visible = await self._rls(plans)
        for n, (ch, info, targets, errs, checked_targets) in enumerate(plans):
            payloads: dict[tuple[str, Select], str] = {}
            frames: dict[tuple[str, Select, str, str, tuple[int, ...]], bytes] = {}
            for (sub, sel), idmap in targets.items():
                if not sub.alive:
                    continue
                err = errs.get(sub.role)
                ordered = sorted(idmap.items(), key=_BY_POSITION)
                if (sub, sel) in checked_targets and not (
                    err is not None or (n, sub.rls_key) in visible
                ):
                    ids = [i for i, (_pos, checked) in ordered if not checked]
                else:
                    ids = [i for i, _ in ordered]
                if not ids:
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

    async def _plan(self, ch: Change, tabs: list[_TableSubs], info: TableInfo) -> Plan | None:
        """Who gets this change, by which bindings, and which of them need RLS."""
        names = [c.name for c in ch.relation.columns]
        row = ch.old if ch.type == "DELETE" else ch.new
        errors: dict[str, str | None] = {}
        allowed: dict[str, frozenset[str] | None] = {}  # None: every column (bypass)
        typed: dict[tuple[str, Callable[[str], Any]], Any] = {}
        targets: dict[Target, Ids] = {}
        pk = info.pk
        deleted_under_rls = ch.type == "DELETE" and info.rls

        def value(col: str, key: Callable[[str], Any]) -> Any:
            tkey = (col, key)
            if tkey not in typed:
                try:
                    idx = names.index(col)
                except ValueError:
                    typed[tkey] = _NO_VALUE
                else:
                    typed[tkey] = (
                        _NO_VALUE if row is None or idx >= len(row) else _parse(key, row[idx])
                    )
            return typed[tkey]

        async def role_facts(role: str) -> tuple[str | None, frozenset[str] | None]:
            if role not in errors:
                errors[role] = await self._row_error(ch, info, role)
                allowed[role] = (
                    None if role in BYPASS_ROLES else await self.catalog.selectable(role, info)
                )
            return errors[role], allowed[role]

        checked_targets: set[Target] = set()

        def add(s: Subscription, checked: bool) -> None:
            target = (s.sub, s.binding.select)
            if checked:
                checked_targets.add(target)
            ids = targets.setdefault(target, {})
            prev = ids.get(s.binding.id)
            # One binding id delivered unchecked wins over the same id needing a check.
            if prev is None or (prev[1] and not checked):
                ids[s.binding.id] = (s.pos, checked)

        # Error rows (no primary key, or the role may not read it) go to every subscriber
        # of the role, filter or not (realtime.apply_rls checks filters only for readable
        # rows): the rare path scans the table's subscriptions of those roles.
        if ch.type != "DELETE":
            bad = set()
            for tab in tabs:
                for role in list(tab.roles):
                    err, _ = await role_facts(role)
                    if err is not None:
                        bad.add(role)
            if bad:
                for tab in tabs:
                    for sub in list(tab.by_sub):
                        if sub.role not in bad or not sub.alive:
                            continue
                        for sel, wanted in tab.wanted_ids(sub, ch.type).items():
                            have = targets.get((sub, sel))
                            if have is None:
                                targets[(sub, sel)] = dict(wanted)
                            else:
                                have.update(wanted)

        matched: list[Subscription] = []
        for tab in tabs:
            matched.extend(tab.plain)
            for (col, key), by_value in tab.index.items():
                v = value(col, key)
                if v is _NO_VALUE:
                    continue
                try:
                    bucket = by_value.get(v)
                except TypeError:  # unhashable: cannot equal any filter value
                    bucket = None
                if bucket:
                    matched.extend(bucket)
            for s in tab.scan:
                f = s.binding.filter
                assert f is not None
                if f.matches_typed(value(f.column, f.key)):
                    matched.append(s)

        for s in matched:
            b = s.binding
            if not s.sub.alive or not b.wants(ch.type):
                continue
            role = s.sub.role
            err, cols = await role_facts(role)
            if err is not None:
                add(s, False)
                continue
            f = b.filter
            # A filter never looks at a column its subscriber may not read.
            if f is not None and cols is not None and f.column not in cols:
                continue
            if role in BYPASS_ROLES or not info.rls:
                add(s, False)
            elif ch.type == "DELETE":
                # Every subscriber of the table receives a deleted row's primary key; a
                # filter on any other column is answered only for those who could read
                # the row before it went.
                assert deleted_under_rls
                add(s, f is not None and f.column not in pk)
            else:
                add(s, True)
        if not targets:
            return None
        errs = {r: e for r, e in errors.items() if e is not None}
        return ch, info, targets, errs, checked_targets

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
        """(plan index, rls key) of the rows each claims set may read, for the targets
        whose delivery needs it. Anything not listed is withheld."""
        work: dict[tuple[str, int], tuple[TableInfo, list[int], dict[tuple[str, str], str]]] = {}
        visible: set[tuple[int, tuple[str, str]]] = set()
        for n, (ch, info, _targets, _errs, checked_targets) in enumerate(plans):
            kind = "deleted" if ch.type == "DELETE" else "visible"
            if not info.pk:
                continue  # error rows only (INSERT/UPDATE); a DELETE has no key to check
            groups: dict[tuple[str, str], str] | None = None
            for s, _sel in checked_targets:
                if kind == "deleted" and not _restorable(ch):
                    continue  # key-only old row: nothing to check against, withheld
                if groups is None:
                    entry = work.setdefault((kind, info.oid), (info, [], {}))
                    entry[1].append(n)
                    groups = entry[2]
                if s.rls_key not in groups:
                    groups[s.rls_key] = s.claims_json  # one member's claims stand for all
        if not work:
            return visible
        checks = []
        for (kind, _oid), (info, idxs, groups) in work.items():
            names = [c.name for c in plans[idxs[0]][0].relation.columns]
            keys = []
            rows = []
            for n in idxs:
                ch = plans[n][0]
                tup = (ch.old if kind == "deleted" else ch.new) or []
                keys.append([tup[names.index(col)] for col in info.pk])
                if kind == "deleted":
                    rows.append(
                        {c: v for c, v in zip(names, tup, strict=False) if c in info.col_types}
                    )
            glist = sorted(groups)  # by role: the plan is re-made only when it changes
            xids = sorted({plans[n][0].xid for n in idxs})
            claims = [[r, groups[(r, c)]] for r, c in glist]
            checks.append(_Check(kind, info, idxs, glist, keys, rows, claims, xids))
        try:
            results = await self._call_visible(checks)
        except psycopg.Error:
            log.exception("RLS check failed; withholding the batch's rows")
            await self.close()
            return visible
        for check, seen in zip(checks, results, strict=True):
            for gi, gkey in enumerate(check.glist):
                ords = seen.get(gi) or ()
                for k, n in enumerate(check.idxs):
                    if k + 1 in ords:
                        visible.add((n, gkey))
        return visible

    async def _call_visible(self, checks: list[_Check]) -> list[dict[int, list[int]]]:
        """Per check, {group index: visible key positions}. Many groups are split across
        the lanes (connections) and checked in parallel: the checks cost Postgres CPU
        per group, and a second core halves the wait. Checks of deleted rows restore
        the rows for a moment, so each runs whole on one lane."""
        self.rls_calls += 1
        n_groups = max(len(c.groups) for c in checks)
        lanes = min(len(self._lanes), max(1, n_groups // MIN_GROUPS_PER_LANE))
        work: list[list[tuple[int, int, _Check, list[list[str]]]]] = [[] for _ in range(lanes)]
        for ci, check in enumerate(checks):
            if check.kind == "deleted":
                work[0].append((ci, 0, check, check.groups))
                continue
            size = -(-len(check.groups) // lanes)
            for li in range(lanes):
                part = check.groups[li * size : (li + 1) * size]
                if part:
                    work[li].append((ci, li * size, check, part))
        parts = await asyncio.gather(
            *(lane.run(self.dsn, items) for lane, items in zip(self._lanes, work, strict=False))
        )
        out: list[dict[int, list[int]]] = [{} for _ in checks]
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
