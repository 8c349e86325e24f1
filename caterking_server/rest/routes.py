"""`/rest/v1`: tables and `rpc/<fn>`, each request one transaction as the JWT's role."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from caterking_server import tokens
from caterking_server.catalog import Catalog, Function, Table
from caterking_server.db import request_tx
from caterking_server.gateway import (
    BodyTooLarge,
    Handler,
    api_key,
    api_key_required,
    bearer,
    read_capped,
    rest_query_pairs,
)
from caterking_server.rest import query as q
from caterking_server.rest.errors import (
    HAS_ROLE_CLAIM,
    RestError,
    parse_error,
    postgrest_errors,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 << 20  # bulk inserts of a few thousand tasks fit many times over
CATALOG_MAX_AGE_S = 2.0  # a table's shape is re-read after this long (DDL while serving)


@dataclass
class Ctx:
    request: web.Request
    claims: dict[str, Any]
    role: str
    pairs: list[tuple[str, str]]
    prefer: dict[str, str]
    single: bool


# Preferences the local stack honours (tx=rollback is accepted and, as with PostgREST's
# default db-tx-end, not applied); the ones PostgREST has and this stack has not would
# change the result, so they are refused rather than ignored.
KNOWN_PREFERENCES = {
    "return": {"representation", "minimal"},
    "count": {"exact", "planned", "estimated"},
    "resolution": {"merge-duplicates", "ignore-duplicates"},
    "missing": {"default", "null"},
    "tx": {"commit", "rollback"},
    "handling": {"lenient", "strict"},
}
UNIMPLEMENTED_PREFERENCES = {"return=headers-only", "timezone", "params"}


def _prefer(request: web.Request) -> dict[str, str]:
    out: dict[str, str] = {}
    invalid: list[str] = []
    for header in request.headers.getall("Prefer", []):
        for part in header.split(","):
            item = part.strip()
            k, _, v = item.partition("=")
            k, v = k.strip().lower(), v.strip()
            if not k:
                continue
            if k in UNIMPLEMENTED_PREFERENCES or f"{k}={v}" in UNIMPLEMENTED_PREFERENCES:
                raise _not_implemented(f"Prefer: {item}")
            if k == "max-affected":
                if not v.isdigit():
                    invalid.append(item)
            elif v not in KNOWN_PREFERENCES.get(k, ()):
                invalid.append(item)
            out[k] = v
    if invalid and out.get("handling") == "strict":
        raise RestError(
            400,
            "PGRST122",
            "Invalid preferences given with handling=strict",
            "Invalid preferences: " + ", ".join(invalid),
        )
    return out


# What the local stack answers: JSON, as an array or (vnd.pgrst.object) one object.
# PostgREST also speaks CSV, GeoJSON, OpenAPI and EXPLAIN plans; asked only for those,
# this stack refuses (406, PGRST107) rather than answer JSON the caller did not want.
_JSON_MEDIA = frozenset(
    {
        "",
        "*/*",
        "application/*",
        "application/json",
        "application/vnd.pgrst.array",
        "application/vnd.pgrst.array+json",
    }
)
_OBJECT_MEDIA = frozenset({"application/vnd.pgrst.object", "application/vnd.pgrst.object+json"})


def _negotiate(accept_headers: list[str]) -> bool:
    """Whether one object is asked for (vnd.pgrst.object); RestError 406 if no media type
    the local stack produces is acceptable."""
    ranges = []
    for header in accept_headers or [""]:
        for part in header.split(","):
            media, _, params = part.strip().partition(";")
            q = 1.0
            for param in params.split(";"):
                k, _, v = param.strip().partition("=")
                if k.strip().lower() == "q":
                    try:
                        q = float(v)
                    except ValueError:
                        q = 1.0
            ranges.append((media.strip().lower(), q))
    wanted = [m for m, q in ranges if q > 0]
    if any(m in _OBJECT_MEDIA for m in wanted):
        return True
    if any(m in _JSON_MEDIA for m in wanted) or not ranges:
        return False
    listed = ", ".join(m for m, _ in ranges if m) or "none"
    raise RestError(
        406,
        "PGRST107",
        f"None of these media types are available: {listed}",
        hint="The local stack answers application/json (or application/vnd.pgrst.object+json)",
    )


def _not_implemented(what: str) -> RestError:
    """PostgREST's answer for a feature it lacks; the local stack lacks more of them."""
    return RestError(400, "PGRST127", "Feature not implemented", f"{what} (the local stack)")


def _page(ctx: Ctx, rq: q.ReadQuery) -> None:
    """A `Range: a-b` request header (PostgREST's other way to page) into offset/limit."""
    header = ctx.request.headers.get("Range")
    if header is None:
        return
    m = re.fullmatch(r"\s*(?:items=)?(\d+)-(\d*)\s*", header)
    if m is None or (m.group(2) and int(m.group(2)) < int(m.group(1))):
        raise RestError(416, "PGRST103", "Requested range not satisfiable", f"Range: {header}")
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else None
    rq.offset = max(rq.offset, start) if rq.offset else start
    if end is not None:
        span = end - start + 1
        rq.limit = span if rq.limit is None else min(rq.limit, span)


def _paged(stmt: sql.Composable, rq: q.ReadQuery, params: list[Any]) -> sql.Composed:
    """``stmt`` with the request's limit and offset (their values appended to params)."""
    page = sql.Composed([stmt])
    if rq.limit is not None:
        page += sql.SQL(" limit %s")
        params.append(rq.limit)
    if rq.offset:
        page += sql.SQL(" offset %s")
        params.append(rq.offset)
    return page


def _json_response(
    body: str | None, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    if body is None:
        return web.Response(status=status, headers=dict(headers or {}))
    return web.Response(
        status=status,
        text=body,
        content_type="application/json",
        charset="utf-8",
        headers=dict(headers or {}),
    )


def _single_error(n: int) -> RestError:
    return RestError(
        406,
        "PGRST116",
        "JSON object requested, multiple (or no) rows returned",
        f"The result contains {n} rows",
    )


def _arg_value(value: Any, type_name: str) -> Any:
    """A JSON argument as a text parameter that Postgres casts to the declared type."""
    if value is None:
        return None
    if type_name in ("json", "jsonb"):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, list):
        if type_name.endswith("[]"):
            return [_arg_value(v, type_name[:-2]) for v in value]
        return json.dumps(value)
    return str(value)


class RestService:
    def __init__(self, pool: AsyncConnectionPool, jwt_secret: str, roles: frozenset[str]) -> None:
        self.pool = pool
        self.jwt_secret = jwt_secret
        self.roles = roles
        self.catalog = Catalog(pool, max_age=CATALOG_MAX_AGE_S)

    def app(self) -> web.Application:
        """`/rest/v1` as a sub-application: Kong's key check, then PostgREST's error
        envelope around every handler; each handler gets the request's context."""
        app = web.Application(middlewares=[api_key_required(self.jwt_secret), postgrest_errors])
        r = app.router
        r.add_get("/rpc/{fn}", self._in_context(self._rpc))
        r.add_post("/rpc/{fn}", self._in_context(self._rpc))
        r.add_get("/{table}", self._in_context(self._read))
        r.add_post("/{table}", self._in_context(self._insert))
        r.add_patch("/{table}", self._in_context(self._update))
        r.add_delete("/{table}", self._in_context(self._delete))
        r.add_route("*", "/", self._in_context(self._root))
        return app

    def _in_context(self, fn: Callable[[Ctx], Awaitable[web.StreamResponse]]) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await fn(self._context(request))

        return handle

    # -- the request's context -----------------------------------------------------------

    def _context(self, request: web.Request) -> Ctx:
        token = bearer(request) or api_key(request)
        try:
            claims = tokens.verify(token, self.jwt_secret)
        except tokens.TokenError as exc:
            if exc.expired:
                raise RestError(401, "PGRST303", "JWT expired") from exc
            raise RestError(401, "PGRST301", exc.message) from exc
        request[HAS_ROLE_CLAIM] = "role" in claims
        role = str(claims.get("role") or "anon")
        if role not in self.roles:
            raise RestError(403, "42501", f'permission denied to set role "{role}"')
        for header in ("Accept-Profile", "Content-Profile"):
            schema = request.headers.get(header)
            if schema is not None and schema != "public":
                raise RestError(
                    406,
                    "PGRST106",
                    "Invalid schema: " + schema,
                    hint="Only the following schemas are exposed: public",
                )
        pairs = rest_query_pairs(
            parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True)
        )
        single = _negotiate(request.headers.getall("Accept", []))
        return Ctx(request, claims, role, pairs, _prefer(request), single)

    def _tx(self, ctx: Ctx, read_only: bool) -> Any:
        return request_tx(
            self.pool,
            role=ctx.role,
            claims={"role": ctx.role, **ctx.claims},
            headers=dict(ctx.request.headers),
            method=ctx.request.method,
            path=ctx.request.path,
            read_only=read_only,
        )

    async def _raw_body(self, ctx: Ctx) -> bytes:
        try:
            return await read_capped(ctx.request, MAX_BODY_BYTES)
        except BodyTooLarge as exc:
            raise RestError(
                413,
                "PGRST102",
                "Request body too large",
                f"The body is {exc.size} bytes or more; the local stack takes at most "
                f"{MAX_BODY_BYTES}",
            ) from exc

    async def _body(self, ctx: Ctx) -> Any:
        raw = await self._raw_body(ctx)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise RestError(
                400, "PGRST102", "Empty or invalid json", f"JSON could not be parsed: {exc}"
            ) from exc
        except RecursionError as exc:
            raise RestError(
                400, "PGRST102", "Empty or invalid json", "JSON nested too deeply"
            ) from exc

    async def _table(self, name: str) -> Table:
        table = await self.catalog.table("public", name)
        if table is None:
            raise RestError(
                404, "PGRST205", f"Could not find the table 'public.{name}' in the schema cache"
            )
        return table

    async def _root(self, ctx: Ctx) -> web.StreamResponse:
        return _json_response(json.dumps({"swagger": "2.0", "info": {"title": "local"}}))

    # -- reads -----------------------------------------------------------------------------

    async def _read(self, ctx: Ctx) -> web.StreamResponse:
        table = await self._table(ctx.request.match_info["table"])
        rq = q.parse_query(ctx.pairs)
        if rq.on_conflict is not None or rq.columns is not None:
            raise parse_error("on_conflict and columns are for writes")
        _page(ctx, rq)
        params: list[Any] = []
        select = q.render_select(rq.select, table, table.name)
        where = q.render_filter(rq.where, table, params)
        order = q.render_order(rq.order, table)
        inner = sql.SQL("select {} from {} where {}{}").format(
            select, q.table_ident(table), where, order
        )
        page_params = list(params)
        if rq.limit is not None:
            inner += sql.SQL(" limit %s")
            page_params.append(rq.limit)
        if rq.offset:
            inner += sql.SQL(" offset %s")
            page_params.append(rq.offset)
        stmt = sql.SQL("select coalesce(json_agg(_t), '[]')::text, count(*) from ({}) _t").format(
            inner
        )
        want_count = ctx.prefer.get("count") in ("exact", "planned", "estimated")
        total: int | None = None
        async with self._tx(ctx, read_only=True) as conn:
            cur = await conn.execute(stmt, page_params)
            row = await cur.fetchone()
            assert row is not None
            body, n = str(row[0]), int(row[1])
            if want_count:
                cur = await conn.execute(
                    sql.SQL("select count(*) from {} where {}").format(q.table_ident(table), where),
                    params,
                )
                crow = await cur.fetchone()
                total = int(crow[0]) if crow else 0
        headers = {"Content-Range": self._range(rq.offset, n, total)}
        status = 200
        if total is not None and n and (rq.offset > 0 or rq.offset + n < total):
            status = 206
        if ctx.single:
            if n != 1:
                raise _single_error(n)
            body = json.dumps(json.loads(body)[0])
        return _json_response(body, status, headers)

    @staticmethod
    def _range(offset: int, n: int, total: int | None) -> str:
        tot = "*" if total is None else str(total)
        if n == 0:
            return f"*/{tot}"
        return f"{offset}-{offset + n - 1}/{tot}"

    # -- writes ----------------------------------------------------------------------------

    def _columns(self, table: Table, names: list[str]) -> list[str]:
        for c in names:
            if c not in table.columns:
                raise RestError(
                    400,
                    "PGRST204",
                    f"Could not find the '{c}' column of '{table.name}' in the schema cache",
                )
        return names

    async def _write(
        self,
        ctx: Ctx,
        table: Table,
        dml: sql.Composable,
        params: list[Any],
        rq: q.ReadQuery,
        ok_status: int,
    ) -> web.StreamResponse:
        representation = ctx.prefer.get("return") == "representation"
        async with self._tx(ctx, read_only=False) as conn:
            if representation:
                stmt = sql.SQL(
                    "with _w as ({} returning {}.*) "
                    "select coalesce(json_agg(_t), '[]')::text, count(*) "
                    "from (select {} from _w) _t"
                ).format(
                    dml,
                    sql.Identifier(table.name),
                    q.render_select(rq.select, table, "_w"),
                )
                cur = await conn.execute(stmt, params)
                row = await cur.fetchone()
                assert row is not None
                body: str | None = str(row[0])
                n = int(row[1])
            else:
                cur = await conn.execute(dml, params)
                n = max(cur.rowcount, 0)
                body = None
            if ctx.single and n != 1:
                raise _single_error(n)  # rolls the transaction back, as PostgREST does
            most = ctx.prefer.get("max-affected", "")
            if ctx.prefer.get("handling") == "strict" and most.isdigit() and n > int(most):
                raise RestError(  # rolls back too
                    400,
                    "PGRST124",
                    "Query result exceeds max-affected preference constraint",
                    f"The query affects {n} rows",
                )
        headers = {}
        if ctx.prefer.get("count"):
            headers["Content-Range"] = f"*/{n}"
        if body is None:
            return _json_response(None, ok_status if ok_status == 201 else 204, headers)
        if ctx.single:
            body = json.dumps(json.loads(body)[0])
        return _json_response(body, ok_status, headers)

    async def _insert(self, ctx: Ctx) -> web.StreamResponse:
        table = await self._table(ctx.request.match_info["table"])
        rq = q.parse_query(ctx.pairs)
        if rq.where.items:
            raise parse_error("filters are not allowed on inserts")
        self._whole_set_only(ctx, rq)
        payload = await self._body(ctx)
        if isinstance(payload, dict):
            rows = [payload]
        elif isinstance(payload, list) and all(isinstance(r, dict) for r in payload):
            rows = payload
        else:
            raise RestError(
                400,
                "PGRST102",
                "Empty or invalid json",
                "The body must be a JSON object or an array of objects",
            )
        if not rows:
            empty = "[]" if ctx.prefer.get("return") == "representation" else None
            if ctx.single:
                raise _single_error(0)
            return _json_response(empty, 201, {"Content-Range": "*/0"})
        if rq.columns is not None:
            names = rq.columns
        else:
            seen: dict[str, None] = {}
            for r in rows:
                for k in r:
                    seen.setdefault(k, None)
            names = list(seen)
        cols = self._columns(table, names)
        tbl = q.table_ident(table)
        missing_default = ctx.prefer.get("missing") == "default"
        params: list[Any]
        if cols and missing_default and any(set(r) != set(cols) for r in rows):
            # `Prefer: missing=default`: absent keys take the column default.
            params = []
            tuples = []
            for r in rows:
                cells = []
                for c in cols:
                    if c in r:
                        cells.append(sql.SQL("%s"))
                        params.append(_arg_value(r[c], table.columns[c]))
                    else:
                        cells.append(sql.SQL("default"))
                tuples.append(sql.SQL("({})").format(sql.SQL(", ").join(cells)))
            dml = sql.SQL("insert into {} ({}) values {}").format(
                tbl,
                sql.SQL(", ").join(sql.Identifier(c) for c in cols),
                sql.SQL(", ").join(tuples),
            )
        elif cols:
            col_list = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
            dml = sql.SQL(
                "insert into {} ({}) select {} from json_populate_recordset(null::{}, %s::json)"
            ).format(tbl, col_list, col_list, tbl)
            params = [json.dumps(rows)]
        else:
            if len(rows) != 1:
                raise parse_error("bulk insert needs at least one column")
            dml = sql.SQL("insert into {} default values").format(tbl)
            params = []
        resolution = ctx.prefer.get("resolution")
        if resolution in ("merge-duplicates", "ignore-duplicates"):
            target = rq.on_conflict or list(table.pk)
            if not target:
                raise parse_error(
                    "upsert needs on_conflict or a primary key", f"table {table.name} has none"
                )
            for c in target:
                q.check_column(table, c)
            target_sql = sql.SQL(", ").join(sql.Identifier(c) for c in target)
            updates = [c for c in cols if c not in target]
            if resolution == "ignore-duplicates" or not updates:
                dml += sql.SQL(" on conflict ({}) do nothing").format(target_sql)
            else:
                sets = sql.SQL(", ").join(
                    sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c))
                    for c in updates
                )
                dml += sql.SQL(" on conflict ({}) do update set {}").format(target_sql, sets)
        elif rq.on_conflict is not None:
            # PostgREST ignores on_conflict without a resolution preference.
            pass
        return await self._write(ctx, table, dml, params, rq, 201)

    @staticmethod
    def _whole_set_only(ctx: Ctx, rq: q.ReadQuery) -> None:
        """PostgREST can limit an update or delete (limit + order); this stack cannot, and
        must not silently change every matching row instead."""
        if rq.limit is not None or rq.offset or rq.order or "Range" in ctx.request.headers:
            raise _not_implemented(f"limit, offset, order or Range on {ctx.request.method}")

    async def _update(self, ctx: Ctx) -> web.StreamResponse:
        table = await self._table(ctx.request.match_info["table"])
        rq = q.parse_query(ctx.pairs)
        self._whole_set_only(ctx, rq)
        payload = await self._body(ctx)
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise RestError(
                400, "PGRST102", "Empty or invalid json", "An update takes one JSON object"
            )
        cols = self._columns(table, list(payload))
        params: list[Any] = []
        if not cols:
            # Nothing to set: PostgREST answers with no rows changed.
            where = q.render_filter(rq.where, table, params)
            rep = ctx.prefer.get("return") == "representation"
            return _json_response("[]" if rep else None, 200 if rep else 204)
        tbl = q.table_ident(table)
        sets = sql.SQL(", ").join(
            sql.SQL("{} = _r.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in cols
        )
        params.append(json.dumps(payload))
        where = q.render_filter(rq.where, table, params)
        dml = sql.SQL(
            "update {} set {} from json_populate_record(null::{}, %s::json) _r where {}"
        ).format(tbl, sets, tbl, where)
        return await self._write(ctx, table, dml, params, rq, 200)

    async def _delete(self, ctx: Ctx) -> web.StreamResponse:
        table = await self._table(ctx.request.match_info["table"])
        rq = q.parse_query(ctx.pairs)
        self._whole_set_only(ctx, rq)
        await self._raw_body(ctx)  # supabase-py sends `{}`; ignored
        params: list[Any] = []
        where = q.render_filter(rq.where, table, params)
        dml = sql.SQL("delete from {} where {}").format(q.table_ident(table), where)
        return await self._write(ctx, table, dml, params, rq, 200)

    # -- rpc --------------------------------------------------------------------------------

    async def _rpc(self, ctx: Ctx) -> web.StreamResponse:
        """A function call. As PostgREST: POST takes the arguments from the body and every
        query parameter shapes the result; GET takes the function's own parameters from
        the query and the rest shape the result. For a set of rows: select, filters,
        order, limit/offset (or Range) and Prefer count, applied to the function's rows."""
        name = ctx.request.match_info["fn"]
        method = ctx.request.method
        if method == "POST":
            payload = await self._body(ctx)
            if payload is None:
                payload = {}
            if not isinstance(payload, dict):
                raise RestError(
                    400,
                    "PGRST102",
                    "Empty or invalid json",
                    "RPC arguments are a JSON object of named arguments",
                )
            args: dict[str, Any] = payload
            fn = await self._find_function(name, args)
            shaping = ctx.pairs
        else:
            params = [(k, v) for k, v in ctx.pairs if k not in q.RESERVED]
            fn, args = await self._find_function_for_query(name, params)
            shaping = [(k, v) for k, v in ctx.pairs if k not in args]
        rq = q.parse_query(shaping)
        if rq.on_conflict is not None or rq.columns is not None:
            raise parse_error("on_conflict and columns are for writes")
        _page(ctx, rq)
        want_count = ctx.prefer.get("count") in ("exact", "planned", "estimated")
        call_args = sql.SQL(", ").join(
            sql.SQL("{} => %s::{}").format(sql.Identifier(a), sql.SQL(fn.arg_types[a]))
            for a in args
        )
        values = [_arg_value(args[a], fn.arg_types[a]) for a in args]
        call = sql.SQL("{}({})").format(sql.Identifier("public", name), call_args)
        shaped = bool(rq.where.items or rq.order or rq.limit is not None or rq.offset or want_count)
        star = len(rq.select) == 1 and rq.select[0].column is None
        stmt, params, count_col = self._rpc_statement(
            name, fn, call, values, rq, shaped, star, want_count
        )
        async with self._tx(ctx, read_only=method != "POST") as conn:
            cur = await conn.execute(stmt, params)
            row = await cur.fetchone()
        if fn.returns_void:
            return _json_response(None, 204)
        body = "null" if row is None or row[0] is None else str(row[0])
        headers: dict[str, str] = {}
        status = 200
        if fn.returns_set:
            n = int(row[1]) if row is not None else 0
            total = int(row[2]) if row is not None and count_col else None
            headers["Content-Range"] = self._range(rq.offset, n, total)
            if total is not None and n and (rq.offset > 0 or rq.offset + n < total):
                status = 206
        if ctx.single and fn.returns_set:
            items = json.loads(body)
            if len(items) != 1:
                raise _single_error(len(items))
            body = json.dumps(items[0])
        return _json_response(body, status, headers)

    @staticmethod
    def _rpc_statement(
        name: str,
        fn: Function,
        call: sql.Composable,
        values: list[Any],
        rq: q.ReadQuery,
        shaped: bool,
        star: bool,
        want_count: bool,
    ) -> tuple[sql.Composable, list[Any], bool]:
        """(statement, parameters, whether it returns a total count)."""
        if fn.returns_void:
            if shaped or not star:
                raise _not_implemented("select, filters, order or limit on a void function")
            return sql.SQL("select {}").format(call), values, False
        if fn.returns_set and fn.composite:
            if not fn.columns:
                raise _not_implemented("select or filters on a function returning bare records")
            # The rows are named after the function, as PostgREST names them in errors.
            rows = Table(name, fn.columns)
            alias = sql.Identifier(name)
            params = list(values)
            where = q.render_filter(rq.where, rows, params)
            select = q.render_select(rq.select, rows, name)
            order = q.render_order(rq.order, rows)
            page = _paged(
                sql.SQL("select {} from _all {}{}").format(select, alias, order), rq, params
            )
            # The function runs once (materialized); the page and the count both read it.
            stmt = sql.SQL(
                "with _all as materialized (select {}.* from {} {} where {}) "
                "select coalesce(json_agg(_t), '[]')::text, count(*), "
                "(select count(*) from _all) from ({}) _t"
            ).format(alias, call, alias, where, page)
            return stmt, params, want_count
        if fn.returns_set:
            # A set of scalars has no columns: only paging applies.
            if rq.where.items or rq.order or not star:
                raise _not_implemented("select, filters or order on a function returning scalars")
            params = list(values)
            page = _paged(sql.SQL("select _v from _all"), rq, params)
            stmt = sql.SQL(
                "with _all as materialized (select _r._v from {} as _r(_v)) "
                "select coalesce(json_agg(_t._v), '[]')::text, count(*), "
                "(select count(*) from _all) from ({}) _t"
            ).format(call, page)
            return stmt, params, want_count
        if shaped:
            raise _not_implemented(
                "filters, order, limit or count on a function returning one value"
            )
        if fn.composite:
            if star or not fn.columns:
                if not star:
                    raise _not_implemented("select on a function returning a bare record")
                stmt = sql.SQL("select to_json(_r)::text from {} _r").format(call)
            else:
                select = q.render_select(rq.select, Table(name, fn.columns), name)
                stmt = sql.SQL("select to_json(_t)::text from (select {} from {} {}) _t").format(
                    select, call, sql.Identifier(name)
                )
            return stmt, values, False
        if not star:
            raise _not_implemented("select on a function returning a scalar")
        return sql.SQL("select to_json({})::text").format(call), values, False

    def _no_function(self, name: str, given: set[str], candidates: list[Function]) -> RestError:
        listed = ", ".join(sorted(given))
        hint = None
        if candidates:
            params = ", ".join(n for n in candidates[0].arg_types if n)
            hint = f"Perhaps you meant to call the function public.{name}({params})"
        return RestError(
            404,
            "PGRST202",
            f"Could not find the function public.{name}({listed}) in the schema cache",
            f"Searched for the function public.{name} with parameters {listed} or with a "
            "single unnamed json/jsonb parameter, but no matches were found in the schema cache.",
            hint,
        )

    async def _find_function(self, name: str, args: Mapping[str, Any]) -> Function:
        candidates = await self.catalog.functions("public", name)
        given = set(args)
        for fn in candidates:
            if given <= set(fn.arg_types) - {""} and set(fn.required) <= given:
                return fn
        raise self._no_function(name, given, candidates)

    async def _find_function_for_query(
        self, name: str, params: list[tuple[str, str]]
    ) -> tuple[Function, dict[str, Any]]:
        """GET: the overload whose parameters the query names; the query's other keys
        are filters on its result."""
        candidates = await self.catalog.functions("public", name)
        keys = {k for k, _ in params}
        best: tuple[Function, dict[str, Any]] | None = None
        for fn in candidates:
            named = keys & (set(fn.arg_types) - {""})
            if not set(fn.required) <= named:
                continue
            if best is None or len(named) > len(best[1]):
                best = (fn, {k: v for k, v in params if k in named})
        if best is None:
            raise self._no_function(name, keys, candidates)
        return best
