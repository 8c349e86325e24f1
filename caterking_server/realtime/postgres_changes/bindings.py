"""postgres_changes bindings: what a join asks for (`{event, schema, table, filter,
select}`), parsed, then checked against the publication and the catalogue, with
Supabase's words when they cannot be subscribed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from caterking_server.catalog import Catalog
from caterking_server.realtime.postgres_changes.filters import (
    Filter,
    FilterError,
    split_filter,
    typed_filter,
)

EVENTS = ("INSERT", "UPDATE", "DELETE")
Select = tuple[str, ...] | None  # a binding's `select` columns (None: all)


class BindingError(Exception):
    """A binding the server cannot subscribe; `message` is the system error text."""


def binding_id(raw: dict[str, Any]) -> int:
    """Stable integer id ≥ 1 for a binding (identical bindings get equal ids)."""
    digest = hashlib.sha1(json.dumps(raw, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:4], "big") % (1 << 27) + 1


@dataclass(slots=True, eq=False)
class Binding:
    raw: dict[str, Any]
    id: int
    event: str  # INSERT | UPDATE | DELETE | *
    schema: str
    table: str | None
    filter: Filter | None = None
    select: Select = None  # set by validate_binding from raw["select"]

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
    """Check the table is published and the filter parses; sets `b.filter` and `b.select`."""
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
    table = await catalog.table(b.schema, b.table)
    if table is None:
        raise _unable(b)
    types = table.typnames
    if select is not None:
        for col in select:
            if col not in types:
                raise _exception(b, f"invalid column for select {col}")
        b.select = tuple(dict.fromkeys(select))
    if not filt:
        return
    try:
        col, op, value = split_filter(str(filt))
        if col not in types:
            raise _exception(b, f"invalid column for filter {col}")
        b.filter = typed_filter(col, op, value, types[col])
    except FilterError as exc:
        raise BindingError(str(exc)) from exc
