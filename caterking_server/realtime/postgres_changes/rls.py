"""Which claims set may read which changed row: Postgres answers, under the table's own
row-level security, one round trip per batch of changes.

Per table, a session-local PL/pgSQL function takes the batch's primary keys and the
[role, claims] groups, runs the check as each group, and returns per group the keys it
may SELECT; for deleted rows it first puts the old rows back inside a subtransaction
that it rolls back. The checks are pipelined on a few dedicated connections ("lanes").
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from caterking_server.catalog import Table

BYPASS_ROLES = ("service_role", "postgres", "supabase_admin")  # RLS does not apply
MIN_GROUPS_PER_LANE = 8  # fewer groups than this per connection: not worth a split


# Claims that differ between tokens of one session (refresh timing) but not in what a
# policy decides: subscribers whose claims differ only in these share one RLS check.
TOKEN_TIMING_CLAIMS = ("exp", "iat", "nbf", "session_id", "amr", "jti")


def rls_key(role: str, claims: dict[str, Any]) -> tuple[str, str]:
    kept = {k: v for k, v in claims.items() if k not in TOKEN_TIMING_CLAIMS}
    return role, json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)


def _pk_query(info: Table) -> sql.Composable:
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


def _visible_function(info: Table) -> tuple[str, str]:
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


def _deleted_function(info: Table) -> tuple[str, str]:
    """(name, DDL) of a session-local function that tells, per [role, claims] group,
    which deleted rows that role could have read: inside a subtransaction it puts the
    old rows back (as the superuser, triggers and foreign-key checks off), runs the same
    check as `_visible_function` against the table's real policies, then rolls the
    subtransaction back. Nothing is committed; a failure means nothing is visible."""
    name = f"caterking_deleted_{info.oid}"
    tbl = sql.Identifier(info.schema, info.name)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in info.insertable)
    casts = sql.SQL(", ").join(
        sql.SQL("x.{}::{}").format(sql.Identifier(c), sql.SQL(info.columns[c]))
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


@dataclass(slots=True)
class RlsCheck:
    """One RLS question for one table: which of these rows may each group read?"""

    kind: str  # "visible" (INSERT/UPDATE: rows as committed) | "deleted" (old rows)
    info: Table
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
        self, dsn: str, items: list[tuple[int, int, RlsCheck, list[list[str]]]]
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


class RlsChecker:
    """Asks the RLS questions of a batch, on `connections` lanes in parallel."""

    def __init__(self, dsn: str, *, connections: int = 2) -> None:
        self.dsn = dsn
        self._lanes = [_Lane() for _ in range(connections)]

    def forget_functions(self) -> None:
        """A table changed shape: re-create its check functions on next use."""
        for lane in self._lanes:
            lane.functions.clear()

    async def close(self) -> None:
        for lane in self._lanes:
            await lane.close()

    async def visible(self, checks: list[RlsCheck]) -> list[dict[int, list[int]]]:
        """Per check, {group index: visible key positions}. Many groups are split across
        the lanes (connections) and checked in parallel: the checks cost Postgres CPU
        per group, and a second core halves the wait. Checks of deleted rows restore
        the rows for a moment, so each runs whole on one lane."""
        n_groups = max(len(c.groups) for c in checks)
        lanes = min(len(self._lanes), max(1, n_groups // MIN_GROUPS_PER_LANE))
        work: list[list[tuple[int, int, RlsCheck, list[list[str]]]]] = [[] for _ in range(lanes)]
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
