"""Reading a damaged SQLite file page by page, in pure Python (no SQLite involved).

The last layer of board-file salvage (``store.salvage``), for a file SQLite refuses to
open — typically because its 100-byte header is garbage — or whose tables SQLite
cannot walk past a damaged page. It follows the documented file format
(https://www.sqlite.org/fileformat2.html):

- page size, reserved bytes and text encoding from the header; when the header is
  unusable, from the ``-wal`` file's header, else guessed: the size under which the
  most pages parse as well-formed b-tree pages;
- the ``-wal`` file (a crash leaves recent commits only there): frames are taken up to
  the last commit whose checksum chain is intact, and override the main file's pages;
- b-tree walks (table and index trees, overflow chains) that never trust a pointer:
  every page is bounds-checked, visited at most once, and a page that does not parse
  costs only its own subtree, whose key range is reported (``lost``);
- a scan of the pages no intact tree reaches, for table leaf cells (the caller decides
  which records it recognises).

Everything here raises ``PageError`` (a ``ValueError``) on malformed input, never
anything else, and reads nothing but the bytes it is given.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"SQLite format 3\x00"
WAL_MAGIC = (0x377F0682, 0x377F0683)
PAGE_SIZES = tuple(1 << n for n in range(9, 17))  # 512 .. 65536

TABLE_LEAF, TABLE_INTERIOR, INDEX_LEAF, INDEX_INTERIOR = 13, 5, 10, 2
_MAX_DEPTH = 40
_INT64 = 1 << 63


class PageError(ValueError):
    """Bytes that do not follow the SQLite file format."""


Value = int | float | str | bytes | None


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the varint at ``pos`` (unsigned 64-bit)."""
    v = 0
    for i in range(8):
        if pos + i >= len(buf):
            raise PageError("varint runs past the end")
        b = buf[pos + i]
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            return v, pos + i + 1
    if pos + 8 >= len(buf):
        raise PageError("varint runs past the end")
    return (v << 8) | buf[pos + 8], pos + 9


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= _INT64 else v


_INT_SIZES = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8}


def decode_record(payload: bytes, encoding: str = "utf-8") -> list[Value]:
    """The column values of one record; strict: the record must fill ``payload``."""
    header_len, pos = varint(payload, 0)
    if header_len < 1 or header_len > len(payload):
        raise PageError("bad record header size")
    types: list[int] = []
    while pos < header_len:
        t, pos = varint(payload, pos)
        types.append(t)
    if pos != header_len:
        raise PageError("record header overruns")
    body = header_len
    values: list[Value] = []
    for t in types:
        v: Value
        if t == 0:
            n, v = 0, None
        elif t in _INT_SIZES:
            n = _INT_SIZES[t]
            v = int.from_bytes(payload[body : body + n], "big", signed=True)
        elif t == 7:
            n = 8
            if body + n > len(payload):
                raise PageError("record body overruns")
            v = float(struct.unpack(">d", payload[body : body + n])[0])
        elif t in (8, 9):
            n, v = 0, t - 8
        elif t in (10, 11):
            raise PageError("reserved serial type")
        elif t % 2 == 0:
            n = (t - 12) // 2
            v = bytes(payload[body : body + n])
        else:
            n = (t - 13) // 2
            try:
                v = bytes(payload[body : body + n]).decode(encoding)
            except UnicodeDecodeError as exc:
                raise PageError(f"bad text: {exc}") from exc
        if body + n > len(payload):
            raise PageError("record body overruns")
        body += n
        values.append(v)
    if body != len(payload):
        raise PageError("record leaves bytes over")
    return values


@dataclass(frozen=True, slots=True)
class BtreePage:
    number: int
    kind: int
    cells: tuple[int, ...]  # offsets of the cells within the page
    right: int | None  # right-most child (interior pages)


@dataclass
class Walk:
    """What one b-tree walk found."""

    rows: list[tuple[int, bytes]] = field(default_factory=list)  # (rowid or -1, payload)
    bad_cells: list[int | None] = field(default_factory=list)  # rowids of unparsable cells
    # Key ranges of subtrees that could not be read: (low exclusive, high inclusive);
    # None = unbounded on that side.
    lost: list[tuple[int | None, int | None]] = field(default_factory=list)
    pages: set[int] = field(default_factory=set)  # pages read (overflow pages too)

    @property
    def complete(self) -> bool:
        return not self.lost and not self.bad_cells


class SqliteImage:
    """A database file's pages (with its WAL applied), for reading only."""

    def __init__(self, db: bytes, wal: bytes | None = None) -> None:
        self._db = db
        header_ok = len(db) >= 100 and db[:16] == MAGIC
        size = 0
        reserved = 0
        encoding = "utf-8"
        if header_ok:
            raw = struct.unpack(">H", db[16:18])[0]
            size = 65536 if raw == 1 else raw
            reserved = db[20]
            enc = struct.unpack(">I", db[56:60])[0]
            encoding = {1: "utf-8", 2: "utf-16-le", 3: "utf-16-be"}.get(enc, "")
            if size not in PAGE_SIZES or size - reserved < 480 or not encoding:
                header_ok, size, reserved, encoding = False, 0, 0, "utf-8"
        self.header_ok = header_ok
        self._wal_pages: dict[int, bytes] = {}
        wal_size = _wal_page_size(wal) if wal else None
        if not size:
            size = wal_size or _guess_page_size(db)
        if not size:
            raise PageError("no page size fits this file")
        self.page_size = size
        self.usable = size - reserved
        self.encoding = encoding
        db_pages = len(db) // size
        if wal and wal_size == size:
            self._wal_pages, committed_size = _wal_frames(wal, size)
            if committed_size:
                db_pages = committed_size  # the size of the database as of that commit
        self.page_count = db_pages

    @classmethod
    def read(cls, path: Path) -> SqliteImage:
        """The file at ``path`` and its ``-wal`` (when there is one)."""
        db = path.read_bytes()
        wal_path = path.with_name(path.name + "-wal")
        wal = wal_path.read_bytes() if wal_path.exists() else None
        return cls(db, wal)

    def page(self, n: int) -> bytes:
        if n < 1 or n > self.page_count:
            raise PageError(f"page {n} is not in the database")
        if n in self._wal_pages:
            return self._wal_pages[n]
        if n > len(self._db) // self.page_size:
            raise PageError(f"page {n} is not in the file")
        start = (n - 1) * self.page_size
        return self._db[start : start + self.page_size]

    # --- b-tree pages ---------------------------------------------------------------

    def btree_page(self, n: int) -> BtreePage:
        return _parse_btree(self.page(n), n, self.usable)

    def freelist(self) -> set[int]:
        """Pages on the freelist (empty when the header cannot say)."""
        if not self.header_ok:
            return set()
        out: set[int] = set()
        trunk = struct.unpack(">I", self._db[32:36])[0]
        while trunk and trunk not in out and len(out) <= self.page_count:
            try:
                p = self.page(trunk)
            except PageError:
                break
            out.add(trunk)
            nxt, count = struct.unpack(">II", p[:8])
            if count > (self.usable - 8) // 4:
                break
            for i in range(count):
                out.add(struct.unpack(">I", p[8 + 4 * i : 12 + 4 * i])[0])
            trunk = nxt
        return out

    def walk_table(self, root: int) -> Walk:
        """Every row of the table b-tree at ``root`` that can be read."""
        w = Walk()
        self._walk(root, None, None, w, 0, table=True)
        return w

    def walk_index(self, root: int) -> Walk:
        """Every entry of the index b-tree at ``root`` that can be read (rowid -1)."""
        w = Walk()
        self._walk(root, None, None, w, 0, table=False)
        return w

    def _walk(
        self, n: int, lo: int | None, hi: int | None, w: Walk, depth: int, *, table: bool
    ) -> None:
        if n in w.pages or depth > _MAX_DEPTH:
            w.lost.append((lo, hi))
            return
        try:
            page = self.btree_page(n)
            want = (TABLE_LEAF, TABLE_INTERIOR) if table else (INDEX_LEAF, INDEX_INTERIOR)
            if page.kind not in want:
                raise PageError(f"page {n} is not part of this kind of tree")
        except PageError:
            w.lost.append((lo, hi))
            return
        w.pages.add(n)
        raw = self.page(n)
        if page.kind == TABLE_LEAF:
            for off in page.cells:
                try:
                    rowid, payload = self._table_leaf_cell(raw, off, w.pages)
                except _CellError as exc:
                    w.bad_cells.append(exc.rowid)
                    continue
                w.rows.append((rowid, payload))
            return
        if page.kind == INDEX_LEAF:
            for off in page.cells:
                try:
                    w.rows.append((-1, self._index_cell(raw, off + 0, w.pages)))
                except PageError:
                    w.bad_cells.append(None)
            return
        # interior pages: children left to right, each with its key range
        prev = lo
        for off in page.cells:
            if off + 4 > len(raw):
                w.lost.append((prev, hi))
                return
            child = struct.unpack(">I", raw[off : off + 4])[0]
            if page.kind == TABLE_INTERIOR:
                try:
                    key = _signed(varint(raw, off + 4)[0])
                except PageError:
                    w.lost.append((prev, hi))
                    return
                self._walk(child, prev, key, w, depth + 1, table=True)
                prev = key
            else:
                self._walk(child, None, None, w, depth + 1, table=False)
                try:
                    w.rows.append((-1, self._index_cell(raw, off + 4, w.pages)))
                except PageError:
                    w.bad_cells.append(None)
        assert page.right is not None
        self._walk(page.right, prev, hi, w, depth + 1, table=table)

    # --- cells ------------------------------------------------------------------------

    def table_leaf_cells(self, n: int) -> Iterator[tuple[int, bytes]]:
        """The readable (rowid, payload) cells of table leaf page ``n`` (orphan scan)."""
        page = self.btree_page(n)
        if page.kind != TABLE_LEAF:
            return
        raw = self.page(n)
        for off in page.cells:
            try:
                yield self._table_leaf_cell(raw, off, set())
            except _CellError:
                continue

    def _table_leaf_cell(self, raw: bytes, off: int, seen: set[int]) -> tuple[int, bytes]:
        rowid: int | None = None
        try:
            size, pos = varint(raw, off)
            r, pos = varint(raw, pos)
            rowid = _signed(r)
            return rowid, self._payload(raw, pos, size, self.usable - 35, seen)
        except PageError as exc:
            raise _CellError(rowid) from exc

    def _index_cell(self, raw: bytes, off: int, seen: set[int]) -> bytes:
        size, pos = varint(raw, off)
        return self._payload(raw, pos, size, (self.usable - 12) * 64 // 255 - 23, seen)

    def _payload(self, raw: bytes, pos: int, size: int, max_local: int, seen: set[int]) -> bytes:
        u = self.usable
        if size <= max_local:
            if pos + size > u:
                raise PageError("cell runs past the page")
            return bytes(raw[pos : pos + size])
        min_local = (u - 12) * 32 // 255 - 23
        k = min_local + (size - min_local) % (u - 4)
        local = k if k <= max_local else min_local
        if pos + local + 4 > u:
            raise PageError("cell runs past the page")
        out = bytearray(raw[pos : pos + local])
        nxt = struct.unpack(">I", raw[pos + local : pos + local + 4])[0]
        while len(out) < size:
            if nxt == 0 or nxt in seen or nxt > self.page_count:
                raise PageError("broken overflow chain")
            seen.add(nxt)
            page = self.page(nxt)
            out += page[4 : min(u, 4 + size - len(out))]
            nxt = struct.unpack(">I", page[:4])[0]
        return bytes(out)


class _CellError(PageError):
    def __init__(self, rowid: int | None) -> None:
        super().__init__("unreadable cell")
        self.rowid = rowid


def _parse_btree(raw: bytes, n: int, usable: int) -> BtreePage:
    h = 100 if n == 1 else 0
    if len(raw) < h + 8:
        raise PageError(f"page {n} is too short")
    kind = raw[h]
    if kind not in (TABLE_LEAF, TABLE_INTERIOR, INDEX_LEAF, INDEX_INTERIOR):
        raise PageError(f"page {n}: not a b-tree page (type {kind})")
    interior = kind in (TABLE_INTERIOR, INDEX_INTERIOR)
    head = 12 if interior else 8
    ncells, content = struct.unpack(">HH", raw[h + 3 : h + 7])
    content = content or 65536
    end = h + head + 2 * ncells
    if end > usable or content > usable or content < end:
        raise PageError(f"page {n}: header does not fit")
    cells = struct.unpack(f">{ncells}H", raw[h + head : end])
    min_cell = 5 if interior else 2  # child pointer + a varint; two varints
    for off in cells:
        if off < content or off + min_cell > usable:
            raise PageError(f"page {n}: cell pointer out of range")
    right = struct.unpack(">I", raw[h + 8 : h + 12])[0] if interior else None
    if right == 0:
        raise PageError(f"page {n}: no right-most child")
    return BtreePage(n, kind, cells, right)


def _guess_page_size(db: bytes) -> int:
    """The page size under which the most pages parse as b-tree pages (0: none does)."""
    best, best_score = 0, 0
    for size in PAGE_SIZES:
        pages = min(len(db) // size, 4096)
        score = 0
        for n in range(1, pages + 1):
            try:
                _parse_btree(db[(n - 1) * size : n * size], n, size)
            except PageError:
                continue
            score += 1
        if score > best_score:
            best, best_score = size, score
    return best


def _wal_page_size(wal: bytes) -> int | None:
    if len(wal) < 32:
        return None
    magic, _version, size = struct.unpack(">III", wal[:12])
    if magic not in WAL_MAGIC or size not in PAGE_SIZES:
        return None
    return int(size)


def _wal_checksum(data: bytes, s0: int, s1: int, big_endian: bool) -> tuple[int, int]:
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def _wal_frames(wal: bytes, size: int) -> tuple[dict[int, bytes], int]:
    """Pages committed in the WAL: frames up to the last commit with an intact checksum
    chain (the rule SQLite itself uses when it recovers a WAL)."""
    magic = struct.unpack(">I", wal[:4])[0]
    big = magic == 0x377F0683
    salt = wal[16:24]
    s0, s1 = _wal_checksum(wal[:24], 0, 0, big)
    if (s0, s1) != struct.unpack(">II", wal[24:32]):
        return {}, 0
    committed: dict[int, bytes] = {}
    db_size = 0
    pending: dict[int, bytes] = {}
    pos = 32
    while pos + 24 + size <= len(wal):
        head = wal[pos : pos + 24]
        pgno, commit = struct.unpack(">II", head[:8])
        if head[8:16] != salt or pgno == 0:
            break
        data = wal[pos + 24 : pos + 24 + size]
        s0, s1 = _wal_checksum(head[:8], s0, s1, big)
        s0, s1 = _wal_checksum(data, s0, s1, big)
        if (s0, s1) != struct.unpack(">II", head[16:24]):
            break
        pending[pgno] = data
        if commit:
            committed.update(pending)
            pending.clear()
            db_size = commit
        pos += 24 + size
    return committed, db_size
