"""The replication wire format, decoded without a database: pgoutput messages and the
streaming protocol's CopyData messages built byte by byte as Postgres sends them."""

from __future__ import annotations

import struct
from datetime import timedelta

from caterking_server.realtime.pgoutput import (
    PG_EPOCH,
    UNCHANGED,
    Keepalive,
    PgOutputDecoder,
    Relation,
    XLogData,
    parse_copy_data,
    standby_status_update,
)

OID = 16_400
TEXT, INT4, UUID = 25, 23, 2950


def cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def relation(oid: int = OID, columns: list[tuple[str, int, int]] | None = None) -> bytes:
    """'R': oid, namespace, name, replica identity, columns (flags, name, type, typmod)."""
    cols = columns or [("id", INT4, 1), ("title", TEXT, 0), ("notes", TEXT, 0)]
    out = b"R" + struct.pack("!I", oid) + cstr("public") + cstr("tasks") + b"d"
    out += struct.pack("!h", len(cols))
    for name, typ, flags in cols:
        out += bytes([flags]) + cstr(name) + struct.pack("!Ii", typ, -1)
    return out


def tuple_data(*values: str | object | None) -> bytes:
    """TupleData: 'n' null, 'u' unchanged TOAST, 't' + length + text."""
    out = struct.pack("!h", len(values))
    for v in values:
        if v is None:
            out += b"n"
        elif v is UNCHANGED:
            out += b"u"
        else:
            raw = str(v).encode()
            out += b"t" + struct.pack("!i", len(raw)) + raw
    return out


def begin(xid: int) -> bytes:
    return b"B" + struct.pack("!qqI", 0x16B3748, 0, xid)


def commit(commit_lsn: int, end_lsn: int, micros: int) -> bytes:
    return b"C" + struct.pack("!bqqq", 0, commit_lsn, end_lsn, micros)


def insert(*values: str | object | None, oid: int = OID) -> bytes:
    return b"I" + struct.pack("!I", oid) + b"N" + tuple_data(*values)


def update(new: tuple, old: tuple | None = None, tag: bytes = b"O", oid: int = OID) -> bytes:
    out = b"U" + struct.pack("!I", oid)
    if old is not None:
        out += tag + tuple_data(*old)
    return out + b"N" + tuple_data(*new)


def delete(old: tuple, tag: bytes = b"O", oid: int = OID) -> bytes:
    return b"D" + struct.pack("!I", oid) + tag + tuple_data(*old)


def test_a_transaction_becomes_its_changes_on_commit() -> None:
    d = PgOutputDecoder()
    assert d.feed(relation()) is None
    assert d.feed(begin(xid=742)) is None
    assert d.in_transaction
    assert d.feed(insert("1", "Dice onions", None)) is None
    assert d.feed(update(("1", "Dice onions", "fine"), old=("1", "Dice onions", None))) is None
    assert d.feed(delete(("1", "Dice onions", "fine"))) is None
    done = d.feed(commit(commit_lsn=0x100, end_lsn=0x180, micros=86_400_000_000))
    assert done is not None and not d.in_transaction
    assert [c.type for c in done] == ["INSERT", "UPDATE", "DELETE"]
    ins, upd, dele = done
    assert ins.new == ["1", "Dice onions", None] and ins.old is None
    assert upd.new == ["1", "Dice onions", "fine"] and upd.old == ["1", "Dice onions", None]
    assert dele.old == ["1", "Dice onions", "fine"] and dele.new is None
    for ch in done:
        assert ch.relation.name == "tasks" and ch.relation.schema == "public"
        assert ch.xid == 742 and ch.commit_lsn == 0x100
        assert ch.commit_time == PG_EPOCH + timedelta(days=1)
    assert d.last_end_lsn == 0x180


def test_relation_columns_types_and_key_flags() -> None:
    d = PgOutputDecoder()
    d.feed(relation())
    rel = d.relations[OID]
    assert (rel.oid, rel.replident) == (OID, "d")
    assert [(c.name, c.type_oid, c.flags) for c in rel.columns] == [
        ("id", INT4, 1),
        ("title", TEXT, 0),
        ("notes", TEXT, 0),
    ]


def test_unchanged_toast_is_taken_from_the_old_row_or_kept_as_unchanged() -> None:
    d = PgOutputDecoder()
    d.feed(relation())
    d.feed(begin(1))
    # With REPLICA IDENTITY FULL the old row is sent: an unchanged value comes from it.
    d.feed(update(("1", "New", UNCHANGED), old=("1", "Old", "long notes")))
    # Without an old row there is nothing to fill it from.
    d.feed(update(("1", "Newer", UNCHANGED)))
    full, bare = d.feed(commit(2, 3, 0)) or []
    assert full.new == ["1", "New", "long notes"]
    assert bare.new == ["1", "Newer", UNCHANGED] and bare.old is None


def test_a_key_only_deleted_row_keeps_only_the_key() -> None:
    d = PgOutputDecoder()
    d.feed(relation())
    d.feed(begin(1))
    d.feed(delete(("7", None, None), tag=b"K"))
    (dele,) = d.feed(commit(2, 3, 0)) or []
    assert dele.old == ["7", UNCHANGED, UNCHANGED]


def test_a_change_of_an_unknown_relation_is_dropped() -> None:
    d = PgOutputDecoder()
    d.feed(begin(1))
    d.feed(insert("1", oid=999))
    assert d.feed(commit(2, 3, 0)) == []


def test_only_a_real_change_of_shape_is_reported() -> None:
    seen: list[Relation] = []
    d = PgOutputDecoder(seen.append)
    d.feed(relation())  # first sight
    d.feed(relation())  # sent again by a new decoding session: same shape
    assert seen == []
    d.feed(relation(columns=[("id", INT4, 1), ("title", TEXT, 0)]))  # a column dropped
    assert [len(r.columns) for r in seen] == [2]


def test_reset_drops_a_transaction_cut_off_by_a_lost_stream() -> None:
    d = PgOutputDecoder()
    d.feed(relation())
    d.feed(begin(1))
    d.feed(insert("1", "half", None))
    d.reset()
    assert not d.in_transaction and d.pending == []
    d.feed(begin(1))
    d.feed(insert("1", "whole", None))
    (ch,) = d.feed(commit(2, 3, 0)) or []
    assert ch.new == ["1", "whole", None]


def test_other_messages_are_ignored() -> None:
    d = PgOutputDecoder()
    for msg in (b"O" + struct.pack("!q", 5) + cstr("origin"), b"Y" + b"\0" * 10, b"T"):
        assert d.feed(msg) is None


def test_copy_data_messages() -> None:
    w = b"w" + struct.pack("!QQq", 0x10, 0x20, 123) + begin(9)
    assert parse_copy_data(w) == XLogData(0x20, begin(9))
    k = b"k" + struct.pack("!Qqb", 0x30, 456, 1)
    assert parse_copy_data(k) == Keepalive(0x30, True)
    assert parse_copy_data(b"k" + struct.pack("!Qqb", 0x30, 456, 0)) == Keepalive(0x30, False)
    assert parse_copy_data(b"?") is None


def test_standby_status_update() -> None:
    msg = standby_status_update(0xABC, 1_000)
    assert msg == b"r" + struct.pack("!QQQqB", 0xABC, 0xABC, 0xABC, 1_000, 0)
