"""A change as its subscribers get it: the `data` JSON (columns and values a role may
read, error rows, Supabase's 413 rule for big rows) and the frame around it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from caterking_server.catalog import PgType, Table
from caterking_server.realtime.pgoutput import UNCHANGED, Change
from caterking_server.realtime.postgres_changes.bindings import Select
from caterking_server.realtime.postgres_changes.values import converter
from caterking_server.realtime.serializers import V2

MAX_VALUE_BYTES_413 = 64  # in a row over the record limit, only values this small stay
ERR_NO_PK = "Error 400: Bad Request, no primary key"
ERR_UNAUTHORIZED = "Error 401: Unauthorized"
ERR_TOO_LARGE = "Error 413: Payload Too Large"


def commit_timestamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def too_large(ch: Change, max_record_bytes: int) -> bool:
    """Whether the change's values exceed max_record_bytes (the real server measures
    its wal2json record; here the text of the new and old values)."""
    total = 0
    for tup in (ch.new, ch.old):
        for v in tup or ():
            if isinstance(v, str):
                total += len(v.encode())
    return total > max_record_bytes


def _head(ch: Change, table: Table) -> dict[str, Any]:
    return {
        "schema": table.schema,
        "table": table.name,
        "commit_timestamp": commit_timestamp(ch.commit_time),
        "type": ch.type,
        "errors": None,
        "columns": [],
    }


def error_json(ch: Change, table: Table, error: str) -> str:
    """An error row (no primary key, no SELECT on it): no column and no value. The real
    server sends schema/table/type only; realtime-py drops a row without
    columns/commit_timestamp, so those stay."""
    data = _head(ch, table)
    data["errors"] = [error]
    if ch.type in ("INSERT", "UPDATE"):
        data["record"] = {}
    if ch.type == "UPDATE":
        data["old_record"] = {}
    return json.dumps(data, separators=(",", ":"))


def change_json(
    ch: Change,
    table: Table,
    types: list[PgType],
    allowed: frozenset[str] | None,
    sel: Select,
    oversized: bool,
) -> str:
    """The change's `data` for a role that may read `allowed` columns (None: all), with
    the binding's `select` (the primary key always stays). `types`: of each column of
    the change's relation. `oversized`: only values of at most 64 bytes are sent."""
    data = _head(ch, table)
    cols = ch.relation.columns
    pk = set(table.pk)
    keep = [
        (allowed is None or c.name in allowed) and (sel is None or c.name in sel or c.name in pk)
        for c in cols
    ]
    data["columns"] = [
        {"name": c.name, "type": t.name} for c, t, k in zip(cols, types, keep, strict=True) if k
    ]
    convert = [converter(t) for t in types]

    def values(tup: list[Any], only: set[str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for c, conv, k, v in zip(cols, convert, keep, tup, strict=False):
            if not k or v is UNCHANGED or (only is not None and c.name not in only):
                continue
            value = None if v is None else conv(v)
            if oversized and (
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
        data["old_record"] = values(ch.old) if ch.old is not None else values(ch.new or [], only=pk)
    elif ch.type == "DELETE":
        only = pk if table.rls else None
        data["old_record"] = values(ch.old or [], only=only)
    if oversized:
        data["errors"] = [ERR_TOO_LARGE]
    return json.dumps(data, separators=(",", ":"), default=str)


def encode_change(topic: str, vsn: str, ids: list[int], data_json: str) -> bytes:
    """A postgres_changes text frame as UTF-8 bytes (queued as is to every socket that
    gets it); `data_json` is serialised once per change and role."""
    payload = f'{{"ids":{json.dumps(ids)},"data":{data_json}}}'
    if vsn == V2:
        return f'[null,null,{json.dumps(topic)},"postgres_changes",{payload}]'.encode()
    return (
        f'{{"topic":{json.dumps(topic)},"event":"postgres_changes","payload":{payload},"ref":null}}'
    ).encode()
