"""Postgres's text output of a value → the JSON value a change payload carries (as
`to_jsonb(text::type)` would give), by the column's type name."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from caterking_server.catalog import PgType


def _num(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    if value != value or value in (float("inf"), float("-inf")):
        return text
    return value


def _bool(text: str) -> Any:
    return text == "t"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


_TZ_SHORT = re.compile(r"([+-]\d\d)$")


def _timestamptz(text: str) -> Any:
    if text in ("infinity", "-infinity"):
        return text
    out = text.replace(" ", "T", 1)
    return _TZ_SHORT.sub(r"\1:00", out)


def _timestamp(text: str) -> Any:
    if text in ("infinity", "-infinity"):
        return text
    return text.replace(" ", "T", 1)


def _text(text: str) -> Any:
    return text


SCALARS: dict[str, Callable[[str], Any]] = {
    "int2": _num,
    "int4": _num,
    "int8": _num,
    "oid": _num,
    "float4": _num,
    "float8": _num,
    "numeric": _num,
    "bool": _bool,
    "json": _json,
    "jsonb": _json,
    "timestamptz": _timestamptz,
    "timestamp": _timestamp,
}


def parse_array(text: str, elem: Callable[[str], Any]) -> Any:
    """A Postgres array literal (any dimension) → nested lists."""
    pos = 0
    if text.startswith("["):  # explicit bounds: [1:2]={...}
        pos = text.index("=") + 1

    def parse(i: int) -> tuple[list[Any], int]:
        assert text[i] == "{"
        i += 1
        out: list[Any] = []
        if text[i] == "}":
            return out, i + 1
        while True:
            if text[i] == "{":
                sub, i = parse(i)
                out.append(sub)
            elif text[i] == '"':
                i += 1
                buf = []
                while text[i] != '"':
                    if text[i] == "\\":
                        i += 1
                    buf.append(text[i])
                    i += 1
                i += 1
                out.append(elem("".join(buf)))
            else:
                j = i
                while text[j] not in ",}":
                    j += 1
                raw = text[i:j].strip()
                out.append(None if raw == "NULL" else elem(raw))
                i = j
            if text[i] == ",":
                i += 1
                continue
            return out, i + 1

    try:
        return parse(pos)[0]
    except (IndexError, AssertionError, ValueError):
        return text


def converter(t: PgType) -> Callable[[str], Any]:
    """The function that turns a value of type `t` from text into JSON."""
    if t.elem_name is not None:
        elem = SCALARS.get(t.elem_name, _text)
        return lambda text: parse_array(text, elem)
    return SCALARS.get(t.name, _text)
