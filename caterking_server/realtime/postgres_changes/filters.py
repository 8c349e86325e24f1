"""A postgres_changes filter, `column=op.value`: parsed, typed with the column's type,
and matched against a row's text values as Postgres would compare them."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from caterking_server.filter_grammar import parse_in_list
from caterking_server.realtime.limits import MAX_IN_VALUES
from caterking_server.realtime.pgoutput import UNCHANGED

CLASSIC_OPS = ("eq", "neq", "lt", "lte", "gt", "gte", "in")


class FilterError(ValueError):
    """A filter that does not parse; the text is Supabase's error."""


# --- typed comparison ---------------------------------------------------------------------


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
    # One function object per type, so equal filters share one index (Subscriptions).
    return KEYS.get(typname, _same)


NO_VALUE = object()  # a NULL, unchanged or unparsable value: matches no filter


def typed_value(key: Callable[[str], Any], text: Any) -> Any:
    """A row's text value as `key` compares it, or NO_VALUE."""
    if text is None or text is UNCHANGED:
        return NO_VALUE
    try:
        return key(str(text))
    except (ValueError, InvalidOperation):
        return NO_VALUE


@dataclass(slots=True)
class Filter:
    column: str
    op: str
    values: list[Any]  # typed with the column's compare key
    key: Callable[[str], Any]

    def matches_typed(self, v: Any) -> bool:
        if v is NO_VALUE:
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


# --- parsing ------------------------------------------------------------------------------


def split_filter(text: str) -> tuple[str, str, str]:
    """`col=op.value` → (col, op, value); FilterError with Supabase's words otherwise."""
    m = re.fullmatch(r"([^=]+)=([a-z]+)\.(.*)", text, re.S)
    if not m or m.group(2) not in CLASSIC_OPS:
        parts = text.split("=", 1)
        raise FilterError(f"Error parsing `filter` params: {json.dumps(parts)}")
    return m.group(1), m.group(2), m.group(3)


def typed_filter(column: str, op: str, value: str, typname: str) -> Filter:
    """The filter on a column of type `typname`, its values parsed as that type (an
    `in.(…)` list with PostgREST's grammar, at most MAX_IN_VALUES)."""
    key = compare_key(typname)
    try:
        texts = parse_in_list(value, most=MAX_IN_VALUES) if op == "in" else [value]
        values = [key(t) for t in texts]
    except (ValueError, InvalidOperation) as exc:
        raise FilterError(
            f"Error parsing `filter` params: {json.dumps([column, op + '.' + value])}"
        ) from exc
    return Filter(column, op, values, key)
