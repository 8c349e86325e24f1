"""PostgREST query grammar → safe SQL (docs/kitchen-server.md, "REST").

Identifiers are checked against the schema cache and quoted with
`sql.Identifier`; every value is a bound parameter. Nothing a client sends is
ever pasted into SQL text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from caterking_server.catalog import Table
from caterking_server.filter_grammar import GrammarError, parse_in_list, split_top, unquote
from caterking_server.rest.errors import RestError, parse_error

RESERVED = frozenset({"select", "order", "limit", "offset", "on_conflict", "columns"})
LOGIC_KEYS = {
    "or": ("or", False),
    "and": ("and", False),
    "not.or": ("or", True),
    "not.and": ("and", True),
}
COMPARE = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "like": "like",
    "ilike": "ilike",
}
IS_VALUES = {
    "null": "null",
    "true": "true",
    "false": "false",
    "unknown": "unknown",
    "not_null": "not null",
}
MAX_LOGIC_DEPTH = 50  # nested and()/or(): PostgREST-sized trees, not recursion bombs
CAST_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,62}(\[\])?$")


@dataclass
class Filter:
    column: str
    op: str
    value: Any  # str, list[str] for `in`, IS_VALUES key for `is`
    negate: bool = False


@dataclass
class Logic:
    op: str  # "and" | "or"
    items: list[Filter | Logic] = field(default_factory=list)
    negate: bool = False


@dataclass
class SelectItem:
    column: str | None  # None = *
    alias: str | None = None
    cast: str | None = None


@dataclass
class OrderItem:
    column: str
    desc: bool = False
    nulls: str | None = None  # "first" | "last"


@dataclass
class ReadQuery:
    select: list[SelectItem]
    where: Logic
    order: list[OrderItem]
    limit: int | None
    offset: int
    on_conflict: list[str] | None
    columns: list[str] | None


def parse_operation(column: str, text: str, *, in_logic: bool) -> Filter:
    """`[not.]op.value` for `column`."""
    negate = False
    if text.startswith("not."):
        negate = True
        text = text[4:]
    op, dot, raw = text.partition(".")
    if not dot:
        raise parse_error(f'"failed to parse filter ({text})"', "expected operator.value")
    if op in COMPARE:
        value: Any = raw
        if in_logic:
            value = unquote(raw)
        if op in ("like", "ilike"):
            value = value.replace("*", "%")
        return Filter(column, op, value, negate)
    if op == "in":
        return Filter(column, "in", parse_in_list(raw), negate)
    if op == "is":
        if raw.lower() not in IS_VALUES:
            raise parse_error(
                f'"failed to parse filter (is.{raw})"', "is. takes null, true, false or unknown"
            )
        return Filter(column, "is", raw.lower(), negate)
    raise parse_error(
        f'"failed to parse filter ({op}.{raw})" (line 1, column 1)',
        f"unknown or unsupported operator {op!r}",
    )


def parse_logic(op: str, body: str, negate: bool, depth: int = 1) -> Logic:
    if depth > MAX_LOGIC_DEPTH:
        raise parse_error(
            '"failed to parse logic tree"',
            f"and()/or() nested deeper than {MAX_LOGIC_DEPTH} levels",
        )
    if not (body.startswith("(") and body.endswith(")")):
        raise parse_error(
            f'"failed to parse logic tree ({body})"', "expected a list in parentheses"
        )
    node = Logic(op, [], negate)
    for part in split_top(body[1:-1]):
        part = part.strip()
        if not part:
            raise parse_error(f'"failed to parse logic tree ({body})"', "empty condition")
        m = re.match(r"^(not\.)?(and|or)(\(.*\))$", part, re.S)
        if m:
            node.items.append(parse_logic(m.group(2), m.group(3), bool(m.group(1)), depth + 1))
            continue
        column, dot, rest = part.partition(".")
        if not dot:
            raise parse_error(f'"failed to parse logic tree ({body})"', f"bad condition {part!r}")
        node.items.append(parse_operation(column, rest, in_logic=True))
    return node


def parse_select(text: str) -> list[SelectItem]:
    items: list[SelectItem] = []
    for raw in split_top(text):
        part = raw.strip()
        if not part:
            continue
        if "(" in part or part.startswith("..."):
            raise parse_error(
                "embedding resources is not supported by the local stack",
                f"select item {part!r} embeds a related table; select columns only",
            )
        if part == "*":
            items.append(SelectItem(None))
            continue
        alias = None
        cast = None
        if ":" in part.replace("::", "\0"):
            alias, _, part = part.replace("::", "\0").partition(":")
            part = part.replace("\0", "::")
            alias = unquote(alias.strip())
            if "%" in alias:
                # psycopg would read it as a placeholder in the composed statement.
                raise parse_error(
                    f'"failed to parse select parameter ({text})"',
                    f"the alias {alias!r} contains '%', which is not allowed",
                )
        if "::" in part:
            part, _, cast = part.partition("::")
            cast = cast.strip()
            if not CAST_TYPE.match(cast):
                raise parse_error(
                    f'"failed to parse select parameter ({text})"', f"unsupported cast {cast!r}"
                )
        if "->" in part:
            raise parse_error("JSON paths in select are not supported by the local stack")
        items.append(SelectItem(unquote(part.strip()), alias, cast))
    return items or [SelectItem(None)]


def parse_order(text: str) -> list[OrderItem]:
    out = []
    for raw in split_top(text):
        parts = raw.strip().split(".")
        if not parts[0]:
            raise parse_error(f'"failed to parse order ({text})"')
        item = OrderItem(unquote(parts[0]))
        for mod in parts[1:]:
            if mod == "asc":
                item.desc = False
            elif mod == "desc":
                item.desc = True
            elif mod == "nullsfirst":
                item.nulls = "first"
            elif mod == "nullslast":
                item.nulls = "last"
            else:
                raise parse_error(f'"failed to parse order ({text})"', f"unknown modifier {mod!r}")
        out.append(item)
    return out


def _non_negative(name: str, value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        raise parse_error(f'"failed to parse {name} ({value})"', f"{name} must be an integer ≥ 0")
    return n


def parse_query(pairs: list[tuple[str, str]]) -> ReadQuery:
    """The query string's select, filters, order, paging and write parameters."""
    try:
        return _parse_query(pairs)
    except GrammarError as exc:
        raise parse_error(exc.message, exc.details) from exc


def _parse_query(pairs: list[tuple[str, str]]) -> ReadQuery:
    q = ReadQuery([SelectItem(None)], Logic("and"), [], None, 0, None, None)
    for key, value in pairs:
        if key == "select":
            q.select = parse_select(value)
        elif key == "order":
            q.order.extend(parse_order(value))
        elif key == "limit":
            q.limit = _non_negative("limit", value)
        elif key == "offset":
            q.offset = _non_negative("offset", value)
        elif key == "on_conflict":
            q.on_conflict = [unquote(c.strip()) for c in split_top(value)]
        elif key == "columns":
            q.columns = [unquote(c.strip()) for c in split_top(value)]
        elif key in LOGIC_KEYS:
            op, negate = LOGIC_KEYS[key]
            q.where.items.append(parse_logic(op, value, negate))
        elif "." in key:
            raise parse_error(
                f'"failed to parse filter ({key})"',
                "filters on embedded resources are not supported by the local stack",
            )
        else:
            q.where.items.append(parse_operation(key, value, in_logic=False))
    return q


# -- SQL -----------------------------------------------------------------------------


def check_column(table: Table, column: str) -> str:
    if column not in table.columns:
        raise RestError(400, "42703", f"column {table.name}.{column} does not exist")
    return column


def render_filter(node: Filter | Logic, table: Table, params: list[Any]) -> sql.Composable:
    if isinstance(node, Logic):
        if not node.items:
            expr: sql.Composable = sql.SQL("true")
        else:
            joiner = sql.SQL(" and " if node.op == "and" else " or ")
            expr = (
                sql.SQL("(")
                + joiner.join(render_filter(i, table, params) for i in node.items)
                + sql.SQL(")")
            )
        return sql.SQL("not ") + expr if node.negate else expr
    col = sql.Identifier(table.name, check_column(table, node.column))
    if node.op in COMPARE:
        params.append(node.value)
        expr = sql.SQL("{} {} %s").format(col, sql.SQL(COMPARE[node.op]))
    elif node.op == "in":
        if not node.value:
            expr = sql.SQL("false")
        else:
            params.extend(node.value)
            marks = sql.SQL(", ").join(sql.SQL("%s") for _ in node.value)
            expr = sql.SQL("{} in ({})").format(col, marks)
    else:  # is
        expr = sql.SQL("{} is {}").format(col, sql.SQL(IS_VALUES[node.value]))
    return sql.SQL("not ({})").format(expr) if node.negate else expr


def render_select(items: list[SelectItem], table: Table, source: str) -> sql.Composable:
    parts: list[sql.Composable] = []
    for item in items:
        if item.column is None:
            parts.append(sql.SQL("{}.*").format(sql.Identifier(source)))
            continue
        col: sql.Composable = sql.Identifier(source, check_column(table, item.column))
        if item.cast:
            col = sql.SQL("{}::{}").format(col, sql.SQL(item.cast))
        parts.append(sql.SQL("{} as {}").format(col, sql.Identifier(item.alias or item.column)))
    return sql.SQL(", ").join(parts)


def render_order(items: list[OrderItem], table: Table) -> sql.Composable:
    if not items:
        return sql.SQL("")
    parts = []
    for o in items:
        p = sql.SQL("{} {}").format(
            sql.Identifier(table.name, check_column(table, o.column)),
            sql.SQL("desc" if o.desc else "asc"),
        )
        if o.nulls:
            p = p + sql.SQL(" nulls first" if o.nulls == "first" else " nulls last")
        parts.append(p)
    return sql.SQL(" order by ") + sql.SQL(", ").join(parts)


def table_ident(table: Table) -> sql.Composable:
    return sql.Identifier("public", table.name)
