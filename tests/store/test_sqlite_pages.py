"""The pure-Python page reader agrees with SQLite on files SQLite wrote."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from caterking_display.store.sqlite_pages import PageError, SqliteImage, decode_record


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(path, isolation_level=None)) as c:
        yield c


def values(rng: random.Random, i: int) -> tuple[Any, ...]:
    """Every storage class and integer width; some rows long enough to overflow."""
    ints = [0, 1, -1, 127, -128, 32767, 1 << 23, -(1 << 31), 1 << 40, -(1 << 47), 1 << 62]
    text = "".join(rng.choice("abcé漢🙂 ") for _ in range(rng.choice([0, 3, 40, 900, 5000])))
    return (
        rng.choice(ints) + i,
        rng.choice([None, 0.5, -1e300, 3.0]),
        text,
        bytes(rng.randrange(256) for _ in range(rng.choice([0, 5, 700]))),
        None,
    )


def make(path: Path, page_size: int, rows: int = 400) -> list[tuple[Any, ...]]:
    rng = random.Random(page_size)
    with connect(path) as c:
        c.execute(f"PRAGMA page_size={page_size}")
        c.execute("CREATE TABLE t (a INTEGER, b REAL, c TEXT, d BLOB, e)")
        c.execute("CREATE INDEX t_c ON t (c)")
        c.execute("BEGIN")
        for i in range(rows):
            c.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", values(rng, i))
        c.execute("DELETE FROM t WHERE rowid % 7 = 0")  # holes, free space, freelist pages
        c.execute("COMMIT")
        return [tuple(r) for r in c.execute("SELECT rowid, * FROM t ORDER BY rowid")]


def roots(path: Path) -> dict[str, int]:
    with connect(path) as c:
        return {str(n): int(r) for n, r in c.execute("SELECT name, rootpage FROM sqlite_schema")}


@pytest.mark.parametrize("page_size", [512, 4096, 65536])
def test_table_and_index_walks_read_what_sqlite_wrote(tmp_path: Path, page_size: int) -> None:
    path = tmp_path / "t.db"
    expected = make(path, page_size, rows=400 if page_size < 65536 else 60)
    img = SqliteImage.read(path)
    assert img.header_ok and img.page_size == page_size
    walk = img.walk_table(roots(path)["t"])
    assert walk.complete
    got = [(rowid, *decode_record(payload)) for rowid, payload in walk.rows]
    assert got == expected
    index = img.walk_index(roots(path)["t_c"])
    assert index.complete
    entries = sorted(tuple(decode_record(p)) for _r, p in index.rows)
    assert entries == sorted((r[3], r[0]) for r in expected)


@pytest.mark.parametrize("page_size", [512, 1024, 4096, 16384])
def test_the_page_size_is_found_without_the_header(tmp_path: Path, page_size: int) -> None:
    path = tmp_path / "t.db"
    expected = make(path, page_size, rows=200)
    root = roots(path)["t"]
    data = bytearray(path.read_bytes())
    data[:100] = b"\x00" * 100
    img = SqliteImage(bytes(data))
    assert not img.header_ok and img.page_size == page_size
    rows = [(r, *decode_record(p)) for r, p in img.walk_table(root).rows]
    assert rows == expected


def test_a_damaged_leaf_costs_only_its_rows_and_its_key_range_is_known(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with connect(path) as c:
        c.execute("PRAGMA page_size=512")
        c.execute("CREATE TABLE t (x TEXT)")
        c.executemany("INSERT INTO t VALUES (?)", [(f"row {i:04d} " * 8,) for i in range(300)])
        leaves = [
            int(r[0])
            for r in c.execute("SELECT pageno FROM dbstat WHERE name='t' AND pagetype='leaf'")
        ]
    victim = leaves[len(leaves) // 2]
    data = bytearray(path.read_bytes())
    page = bytes(data[(victim - 1) * 512 : victim * 512])
    on_page = {i + 1 for i in range(300) if f"row {i:04d} ".encode() in page}
    data[(victim - 1) * 512 : victim * 512] = b"\xab" * 512
    walk = SqliteImage(bytes(data)).walk_table(roots(path)["t"])
    assert {r for r, _ in walk.rows} == set(range(1, 301)) - on_page
    [(lo, hi)] = walk.lost
    assert lo is not None and hi is not None
    assert on_page == set(range(lo + 1, hi + 1))  # dense rowids: the range is exact


def test_the_wal_is_applied_up_to_its_last_intact_commit(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with connect(path) as c:
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA wal_autocheckpoint=0")
        c.execute("CREATE TABLE t (x)")
        c.execute("INSERT INTO t VALUES ('first')")
        c.execute("INSERT INTO t VALUES ('second')")
        db = path.read_bytes()
        wal = (tmp_path / "t.db-wal").read_bytes()
        root = int(c.execute("SELECT rootpage FROM sqlite_schema").fetchone()[0])

    def rows(w: bytes | None) -> list[object]:
        img = SqliteImage(db, w)
        return [decode_record(p)[0] for _r, p in img.walk_table(root).rows]

    assert rows(wal) == ["first", "second"]
    frame = 24 + 4096
    torn = wal[: len(wal) - frame // 2]  # the last commit half written
    assert rows(torn) == ["first"]
    flipped = bytearray(wal)
    flipped[-10] ^= 0xFF  # a bad checksum drops that frame's commit
    assert rows(bytes(flipped)) == ["first"]


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x05\x01",  # header longer than the record
        b"\x02\x0a",  # reserved serial type
        b"\x02\x01\x05\x06",  # bytes left over
        b"\x02\x0f\xff",  # invalid UTF-8 text
        b"\x02\x06\x00",  # an 8-byte integer with one byte
    ],
)
def test_malformed_records_are_refused(payload: bytes) -> None:
    with pytest.raises(PageError):
        decode_record(payload)


def test_garbage_is_no_database() -> None:
    with pytest.raises(PageError):
        SqliteImage(b"not sqlite at all\xff" * 300)
