"""The logical replication wire format, decoded and encoded without any I/O: pgoutput
protocol v1 messages (Begin, Relation, Insert, Update, Delete, Commit) into row
changes, and the streaming replication protocol's CopyData messages (XLogData,
Primary keepalive, Standby status update). `caterking_server.realtime.replication`
does the I/O."""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
XLOG_HEADER_BYTES = 25  # 'w', start LSN, end of WAL, send time: then the pgoutput message


@dataclass(slots=True)
class Column:
    name: str
    type_oid: int
    flags: int  # 1: part of the replica identity (the key)


@dataclass(slots=True)
class Relation:
    oid: int
    schema: str
    name: str
    replident: str
    columns: list[Column]


UNCHANGED = object()  # an unchanged TOASTed value (pgoutput sends no value for it)


@dataclass(slots=True)
class Change:
    """One row change; values are text (None = NULL, UNCHANGED = unchanged TOAST)."""

    relation: Relation
    type: str  # INSERT | UPDATE | DELETE
    new: list[str | object | None] | None
    old: list[str | object | None] | None
    commit_time: datetime = field(default=PG_EPOCH)
    commit_lsn: int = 0
    xid: int = 0


class PgOutputDecoder:
    """Decodes pgoutput protocol v1 messages, one per call, in WAL order. `on_relation`
    hears of a table whose shape changed (not of the first sight of a table)."""

    def __init__(self, on_relation: Callable[[Relation], None] | None = None) -> None:
        self.relations: dict[int, Relation] = {}
        self.pending: list[Change] = []
        self.in_transaction = False
        self.xid = 0
        self.last_end_lsn = 0
        self.on_relation = on_relation

    def reset(self) -> None:
        """A new stream: a transaction cut off by the old one starts again from Begin."""
        self.pending = []
        self.in_transaction = False

    def feed(self, data: bytes) -> list[Change] | None:
        """Returns the transaction's changes on Commit, else None."""
        kind = data[0:1]
        if kind == b"B":
            self.pending = []
            self.in_transaction = True
            (self.xid,) = struct.unpack_from("!I", data, 17)
        elif kind == b"C":
            _flags, commit_lsn, end_lsn, ts = struct.unpack_from("!bqqq", data, 1)
            self.in_transaction = False
            self.last_end_lsn = end_lsn
            when = PG_EPOCH + timedelta(microseconds=ts)
            done = self.pending
            self.pending = []
            for ch in done:
                ch.commit_time = when
                ch.commit_lsn = commit_lsn
                ch.xid = self.xid
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
        # pgoutput re-sends Relation in every decoding session (each connection): only a real
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


# --- the streaming replication protocol's CopyData messages --------------------------------


@dataclass(slots=True, frozen=True)
class XLogData:
    wal_end: int
    message: bytes  # one pgoutput message


@dataclass(slots=True, frozen=True)
class Keepalive:
    wal_end: int
    reply_requested: bool


def parse_copy_data(data: bytes) -> XLogData | Keepalive | None:
    """One CopyData message from the server (None: a kind this client does not use)."""
    kind = data[0:1]
    if kind == b"w":
        _start, wal_end, _sent = struct.unpack_from("!QQq", data, 1)
        return XLogData(wal_end, data[XLOG_HEADER_BYTES:])
    if kind == b"k":
        wal_end, _sent, reply = struct.unpack_from("!Qqb", data, 1)
        return Keepalive(wal_end, bool(reply))
    return None


def standby_status_update(lsn: int, now_us: int) -> bytes:
    """Feedback: written, flushed and applied up to `lsn`; `now_us` since 2000-01-01."""
    return struct.pack("!cQQQqB", b"r", lsn, lsn, lsn, now_us, 0)
