"""Logical replication of publication `supabase_realtime` through the built-in `pgoutput`
plugin, read with `pg_logical_slot_get_binary_changes` (supabase-protocol.md §1.6, §1.8).

Slot policy: one slot per database (`caterking_rt_<database>`). A slot left by a crash is
dropped and recreated on start (its changes had no subscribers anyway), and `stop()` drops
it, so the slot never pins WAL after the server is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

log = logging.getLogger(__name__)

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PUBLICATION = "supabase_realtime"


def slot_name_for(dbname: str) -> str:
    clean = re.sub(r"[^a-z0-9_]", "_", dbname.lower())
    name = f"caterking_rt_{clean}"
    if len(name) > 63 or clean != dbname:
        name = f"caterking_rt_{clean[:30]}_{hashlib.sha1(dbname.encode()).hexdigest()[:10]}"
    return name


@dataclass(slots=True)
class Column:
    name: str
    type_oid: int
    flags: int


@dataclass(slots=True)
class Relation:
    oid: int
    schema: str
    name: str
    replident: str
    columns: list[Column]


@dataclass(slots=True)
class Change:
    """One row change; values are text (None = NULL, UNCHANGED = unchanged TOAST)."""

    relation: Relation
    type: str  # INSERT | UPDATE | DELETE
    new: list[str | object | None] | None
    old: list[str | object | None] | None
    commit_time: datetime = field(default=PG_EPOCH)
    commit_lsn: int = 0


UNCHANGED = object()


class PgOutputDecoder:
    """Decodes pgoutput protocol v1 messages, one bytea per call, in WAL order."""

    def __init__(self) -> None:
        self.relations: dict[int, Relation] = {}
        self.pending: list[Change] = []
        self.on_relation: Callable[[Relation], None] | None = None

    def feed(self, data: bytes) -> list[Change] | None:
        """Returns the transaction's changes on Commit, else None."""
        kind = data[0:1]
        if kind == b"B":
            self.pending = []
        elif kind == b"C":
            _flags, commit_lsn, _end, ts = struct.unpack_from("!bqqq", data, 1)
            when = PG_EPOCH + timedelta(microseconds=ts)
            done = self.pending
            self.pending = []
            for ch in done:
                ch.commit_time = when
                ch.commit_lsn = commit_lsn
            return done
        elif kind == b"R":
            self._relation(data)
        elif kind in (b"I", b"U", b"D"):
            self._row(kind, data)
        # Origin, Type, Truncate, Message: nothing to send.
        return None

    @staticmethod
    def _cstring(data: bytes, pos: int) -> tuple[str, int]:
        end = data.index(b"\0", pos)
        return data[pos:end].decode(), end + 1

    def _relation(self, data: bytes) -> None:
        (oid,) = struct.unpack_from("!I", data, 1)
        schema, pos = self._cstring(data, 5)
        name, pos = self._cstring(data, pos)
        replident = chr(data[pos])
        (ncols,) = struct.unpack_from("!h", data, pos + 1)
        pos += 3
        cols = []
        for _ in range(ncols):
            flags = data[pos]
            cname, pos = self._cstring(data, pos + 1)
            type_oid, _typmod = struct.unpack_from("!Ii", data, pos)
            pos += 8
            cols.append(Column(cname, type_oid, flags))
        rel = Relation(oid, schema, name, replident, cols)
        before = self.relations.get(oid)
        self.relations[oid] = rel
        # pgoutput re-sends Relation in every decoding session (every poll): only a real
        # change of the table's shape invalidates the catalog caches.
        if before != rel and before is not None and self.on_relation is not None:
            self.on_relation(rel)

    @staticmethod
    def _tuple(data: bytes, pos: int) -> tuple[list[str | object | None], int]:
        (n,) = struct.unpack_from("!h", data, pos)
        pos += 2
        vals: list[str | object | None] = []
        for _ in range(n):
            k = data[pos : pos + 1]
            pos += 1
            if k == b"n":
                vals.append(None)
            elif k == b"u":
                vals.append(UNCHANGED)
            else:  # 't' text (or 'b' binary, never requested)
                (length,) = struct.unpack_from("!i", data, pos)
                pos += 4
                vals.append(data[pos : pos + length].decode())
                pos += length
        return vals, pos

    def _row(self, kind: bytes, data: bytes) -> None:
        (oid,) = struct.unpack_from("!I", data, 1)
        rel = self.relations.get(oid)
        pos = 5
        new = old = None
        tag = data[pos : pos + 1]
        if kind == b"I":
            new, pos = self._tuple(data, pos + 1)
            typ = "INSERT"
        elif kind == b"U":
            if tag in (b"K", b"O"):
                old, pos = self._tuple(data, pos + 1)
                tag = data[pos : pos + 1]
            new, pos = self._tuple(data, pos + 1)
            typ = "UPDATE"
            if old is not None:
                new = [o if v is UNCHANGED else v for v, o in zip(new, old, strict=False)]
        else:
            old, pos = self._tuple(data, pos + 1)
            typ = "DELETE"
        if rel is None:
            log.warning("change for unknown relation %s ignored", oid)
            return
        if tag == b"K" and old is not None:
            # Key-only identity: only the key columns are meaningful.
            old = [v if c.flags & 1 else UNCHANGED for v, c in zip(old, rel.columns, strict=False)]
        self.pending.append(Change(rel, typ, new, old))


# --- text values -> JSON values (as to_jsonb(text::type) would give) -------------------


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


@dataclass(slots=True)
class PgType:
    oid: int
    name: str
    elem_name: str | None  # for arrays

    def converter(self) -> Callable[[str], Any]:
        if self.elem_name is not None:
            elem = SCALARS.get(self.elem_name, _text)
            return lambda t: parse_array(t, elem)
        return SCALARS.get(self.name, _text)


# --- the slot reader --------------------------------------------------------------------


class SlotReader:
    """Polls the slot and hands each committed transaction's changes to `sink`, in order."""

    def __init__(
        self,
        dsn: str,
        sink: Callable[[list[Change]], Awaitable[None]],
        *,
        poll_interval_s: float = 0.005,
        idle_interval_s: float = 0.05,
    ) -> None:
        self.dsn = dsn
        self.sink = sink
        self.poll_interval_s = poll_interval_s
        self.idle_interval_s = max(idle_interval_s, poll_interval_s)
        self.decoder = PgOutputDecoder()
        self.slot = ""
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_activity = 0.0
        self.polls = 0

    async def start(self) -> None:
        self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        await self._conn.execute("set timezone to 'UTC'")
        await self._conn.execute("set application_name to 'caterking-realtime'")
        row = await (await self._conn.execute("select current_database()")).fetchone()
        assert row is not None
        self.slot = slot_name_for(row[0])
        cur = await self._conn.execute(
            "select active_pid from pg_replication_slots where slot_name = %s", (self.slot,)
        )
        existing = await cur.fetchone()
        if existing is not None:
            if existing[0] is not None:
                # A live reader elsewhere (another server on this database); take over.
                await self._conn.execute("select pg_terminate_backend(%s)", (existing[0],))
                await asyncio.sleep(0.05)
            log.info("dropping stale replication slot %s", self.slot)
            await self._conn.execute("select pg_drop_replication_slot(%s)", (self.slot,))
        await self._conn.execute(
            "select pg_create_logical_replication_slot(%s, 'pgoutput')", (self.slot,)
        )
        self._task = asyncio.create_task(self._run(), name="realtime-slot-reader")

    def wake(self) -> None:
        self._last_activity = time.monotonic()
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                if conn.closed or conn.broken:
                    conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
                await conn.execute(
                    "select pg_drop_replication_slot(slot_name) from pg_replication_slots "
                    "where slot_name = %s",
                    (self.slot,),
                )
            except psycopg.Error as exc:
                log.warning("could not drop replication slot %s: %s", self.slot, exc)
            finally:
                await conn.close()

    async def poll_once(self) -> int:
        assert self._conn is not None
        cur = await self._conn.execute(
            "select data from pg_logical_slot_get_binary_changes(%s, NULL, NULL, "
            "'proto_version', '1', 'publication_names', %s)",
            (self.slot, PUBLICATION),
        )
        rows = await cur.fetchall()
        self.polls += 1
        count = 0
        for (data,) in rows:
            done = self.decoder.feed(bytes(data))
            if done:
                count += len(done)
                await self.sink(done)
        return len(rows)

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                n = await self.poll_once()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("replication poll failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                try:
                    if self._conn is None or self._conn.closed or self._conn.broken:
                        self._conn = await psycopg.AsyncConnection.connect(
                            self.dsn, autocommit=True
                        )
                        await self._conn.execute("set timezone to 'UTC'")
                except psycopg.Error:
                    pass
                continue
            now = time.monotonic()
            if n:
                self._last_activity = now
            busy = now - self._last_activity < 1.0
            delay = self.poll_interval_s if busy else self.idle_interval_s
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)


def commit_timestamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
