"""Salvaging a damaged board file: unsent actions survive it, with honest accounting.

When ``BoardStore.open`` finds ``board.sqlite3`` unreadable (SQLite errors, a failed
``quick_check``, or a schema from a newer app), it moves the file (and its ``-wal`` /
``-shm``) aside to ``<name>.corrupt-<timestamp>``, starts a fresh file, and carries over
what the damaged one still holds:

- every readable outbox row (``ops``), with its op id, seq (order), action, task, staff,
  device, created_at, attempts and last error. Re-sending an op is harmless: the server
  keeps a ledger of op ids (``task_ops``) and answers a replay with ``duplicate``
  without changing anything, so an op that had reached the server before the damage
  (its answer lost) is not applied twice, and one that had not is applied once;
- the not-applied list (``failed_actions``) and ``meta`` (last chef, kitchen name and
  time zone): cheap, and only this device has them.

Confirmed task rows, tombstones and staff are NOT carried over: they are server truth,
and the fresh file has no ``saved_at``, so the sync engine fetches the whole board on
(re)join and nothing stale is ever shown as confirmed.

Layers, most faithful first (each table is complete as soon as one layer read it all):

1. ``SQLITE``: a temporary copy of the damaged file (with its WAL) opened by SQLite with
   ``writable_schema`` on (a damaged schema entry does not stop the others); each table
   is read in rowid order; where a step fails, rowid seeks (exponential, then bisection)
   find where the table becomes readable again, so one bad page costs only its own rows,
   and the rows just before that point are read backwards. Unreadable rowid ranges are
   remembered.
2. ``BTREE`` (``sqlite_pages``, pure Python — the Pi's OS may have no ``sqlite3`` CLI,
   so ``.recover`` is deliberately not used): when SQLite cannot open the file at all
   (a garbage header: the page size is then taken from the WAL or guessed) or left a
   table incomplete, the raw file and its WAL are read page by page, following the
   schema and each table's b-tree; an unreadable page costs only its subtree, whose key
   range is known from its parent.
3. ``PAGE_SCAN``: table leaf pages that no intact b-tree reaches (and that are not on a
   known freelist) are scanned for records shaped like outbox or not-applied rows
   (UUID op id, a known action, ISO timestamps). When the op-id index is intact, only
   rows it lists are taken, so a stale copy of an op answered long ago cannot come back;
   without it such a copy could be re-sent, which the server's ledger makes harmless.

Every recovered row is decoded by the same code as a normal load (``persistence``),
with stricter types; rows are de-duplicated by op id; nothing is invented.

Accounting (``StoreRecovery``): ``ops_lost`` is exact when every page of the ops table
was read (it counts rows seen but unreadable) or when the unique op-id index was read
whole (every op id it lists but no layer recovered is lost, and ``lost_op_ids`` names
them); otherwise it is None (unknown) and ``ops_lost_at_most`` bounds it when the
unreadable rowid ranges are bounded (seq only grows; ``sqlite_sequence`` caps the top).
The report is saved in the new file's ``store_state`` until
``BoardStore.acknowledge_recovery()``, so a restart before anyone saw it keeps it.
It holds facts only; the UI words them.

No Textual and no network here.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from caterking_display.domain.board import FailedAction, PendingOp
from caterking_display.domain.task import RowError
from caterking_display.store.persistence import (
    Persistence,
    _failed_from_db,
    _op_from_db,
    _parse_ts,
)
from caterking_display.store.sqlite_pages import (
    TABLE_LEAF,
    PageError,
    SqliteImage,
    Value,
    Walk,
    decode_record,
)

log = logging.getLogger(__name__)

RECOVERY_STATE_KEY = "recovery"
"""The ``store_state`` key that keeps an unacknowledged ``StoreRecovery`` (JSON)."""

_MIN = -(1 << 63)
_MAX = (1 << 63) - 1

OPS_COLUMNS = (
    "op_id",
    "action",
    "task_id",
    "staff_id",
    "device",
    "created_at",
    "attempts",
    "last_error",
)
FAILED_COLUMNS = (*OPS_COLUMNS, "outcome", "reason", "task_title", "at", "message", "winner")
# Fields a failed_actions record has in files of each version (v1 had no message, v2–v3
# no winner): a page scan takes any of them.
_FAILED_LENGTHS = range(len(FAILED_COLUMNS) - 2, len(FAILED_COLUMNS) + 1)
META_COLUMNS = ("key", "value")


class DamageCause(StrEnum):
    CORRUPT = "corrupt"  # SQLite could not read the file, or its integrity check failed
    NEWER_VERSION = "newer_version"  # written by a newer version of the app


class RecoveryLayer(StrEnum):
    SQLITE = "sqlite"  # rows read through SQLite, table by table
    BTREE = "btree"  # pages read directly, following the b-trees
    PAGE_SCAN = "page_scan"  # pages no tree reaches, scanned for outbox-shaped rows


@dataclass(frozen=True, slots=True)
class StoreRecovery:
    """What happened when a damaged board file was replaced (facts, no wording)."""

    at: datetime  # when the damaged file was found and replaced
    cause: DamageCause
    moved_to: Path | None  # where the damaged file was kept (None: it could not be moved)
    ops_recovered: int  # unsent actions carried into the new store (they will be sent)
    ops_lost: int | None  # unsent actions that could not be recovered; None = unknown
    ops_lost_at_most: int | None  # an upper bound when ops_lost is unknown (else = it)
    lost_op_ids: tuple[str, ...]  # op ids known to be lost (from the op-id index)
    failed_recovered: int  # entries of the not-applied list carried over
    failed_lost: int | None  # not-applied entries lost; None = unknown
    meta_recovered: int  # meta keys carried over (last chef, kitchen name, time zone)
    layers: tuple[RecoveryLayer, ...]  # which recovery layers contributed
    in_memory: bool  # the new file could not be created: the board runs in memory

    def to_json(self) -> str:
        return json.dumps(
            {
                "at": self.at.isoformat(),
                "cause": self.cause.value,
                "moved_to": None if self.moved_to is None else str(self.moved_to),
                "ops_recovered": self.ops_recovered,
                "ops_lost": self.ops_lost,
                "ops_lost_at_most": self.ops_lost_at_most,
                "lost_op_ids": list(self.lost_op_ids),
                "failed_recovered": self.failed_recovered,
                "failed_lost": self.failed_lost,
                "meta_recovered": self.meta_recovered,
                "layers": [x.value for x in self.layers],
                "in_memory": self.in_memory,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> StoreRecovery:
        """Parse ``to_json``'s output; ValueError when it is not that."""
        try:
            d = json.loads(text)
            if not isinstance(d, dict):
                raise ValueError("not an object")
            moved = d["moved_to"]
            return cls(
                at=_parse_ts(_str(d["at"])),
                cause=DamageCause(d["cause"]),
                moved_to=None if moved is None else Path(_str(moved)),
                ops_recovered=_int(d["ops_recovered"]),
                ops_lost=_opt_int(d["ops_lost"]),
                ops_lost_at_most=_opt_int(d["ops_lost_at_most"]),
                lost_op_ids=tuple(_str(x) for x in d["lost_op_ids"]),
                failed_recovered=_int(d["failed_recovered"]),
                failed_lost=_opt_int(d["failed_lost"]),
                meta_recovered=_int(d["meta_recovered"]),
                layers=tuple(RecoveryLayer(x) for x in d["layers"]),
                in_memory=bool(d["in_memory"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a recovery report: {exc}") from exc


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected text, got {v!r}")
    return v


def _int(v: Any) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ValueError(f"expected a count, got {v!r}")
    return v


def _opt_int(v: Any) -> int | None:
    return None if v is None else _int(v)


@dataclass(frozen=True, slots=True)
class Salvage:
    """What could be read from a damaged file, ready to install in a fresh store."""

    ops: tuple[tuple[int, PendingOp], ...] = ()  # (seq, op), oldest first
    failed: tuple[tuple[int, FailedAction], ...] = ()  # (seq, entry), oldest first
    meta: tuple[tuple[str, str], ...] = ()
    ops_lost: int | None = None
    ops_lost_at_most: int | None = None
    lost_op_ids: tuple[str, ...] = ()
    failed_lost: int | None = None
    layers: tuple[RecoveryLayer, ...] = ()

    def report(
        self, *, at: datetime, cause: DamageCause, moved_to: Path | None, in_memory: bool
    ) -> StoreRecovery:
        return StoreRecovery(
            at=at,
            cause=cause,
            moved_to=moved_to,
            ops_recovered=len(self.ops),
            ops_lost=self.ops_lost,
            ops_lost_at_most=self.ops_lost_at_most,
            lost_op_ids=self.lost_op_ids,
            failed_recovered=len(self.failed),
            failed_lost=self.failed_lost,
            meta_recovered=len(self.meta),
            layers=self.layers,
            in_memory=in_memory,
        )


# --- installing into the fresh store --------------------------------------------------


def install(db: Persistence, salvage: Salvage, report: StoreRecovery) -> None:
    """Write the salvaged rows and the report into a fresh store, in one durable
    transaction (all or nothing). ``saved_at`` stays unset: the board is refetched."""
    with db.transaction(durable=True) as c:
        for seq, op in salvage.ops:
            db.insert_op(c, op, seq)
        for seq, fa in salvage.failed:
            db.insert_failed(c, fa, seq)
        for key, value in salvage.meta:
            db.set_meta(c, key, value)
        db.set_state(c, RECOVERY_STATE_KEY, report.to_json())


def load_report(db: Persistence) -> StoreRecovery | None:
    """The unacknowledged report saved in the store, if any."""
    text = db.get_state(RECOVERY_STATE_KEY)
    if text is None:
        return None
    try:
        return StoreRecovery.from_json(text)
    except ValueError as exc:
        log.warning("store: unreadable recovery report ignored: %s", exc)
        return None


# --- validation (the normal decoders, stricter types) --------------------------------


def _op(cols: tuple[Value, ...]) -> PendingOp | None:
    texts = cols[:6]
    if not all(isinstance(v, str) for v in texts) or not isinstance(cols[6], int):
        return None
    if cols[7] is not None and not isinstance(cols[7], str):
        return None
    try:
        op = _op_from_db(cols[:8])
        if str(uuid.UUID(op.op_id)) != op.op_id.lower() or op.attempts < 0:
            return None
    except (ValueError, TypeError, RowError):
        return None
    return op


def _failed(cols: tuple[Value, ...]) -> FailedAction | None:
    if _op(cols[:8]) is None:
        return None
    if not isinstance(cols[8], str) or not isinstance(cols[11], str):
        return None
    if not all(v is None or isinstance(v, str) for v in (cols[9], cols[10], cols[12], cols[13])):
        return None
    try:
        return _failed_from_db(cols)
    except (ValueError, TypeError, RowError):
        return None


def _meta(cols: tuple[Value, ...]) -> tuple[str, str] | None:
    key, value = cols[0], cols[1]
    if isinstance(key, str) and isinstance(value, str):
        return key, value
    return None


# --- what a layer read -----------------------------------------------------------------


@dataclass
class _Table:
    """The rows one layer read from one table."""

    rows: dict[int, tuple[Value, ...]] = field(default_factory=dict)  # rowid -> columns
    bad: set[int] = field(default_factory=set)  # rowids seen, record undecodable
    bad_unknown: int = 0  # cells seen whose rowid could not even be read
    # Closed rowid ranges that could not be read (high None: unbounded).
    gaps: list[tuple[int, int | None]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.gaps

    @classmethod
    def unknown(cls) -> _Table:
        return cls(gaps=[(_MIN, None)])


@dataclass
class _Layer:
    ops: _Table
    failed: _Table
    meta: _Table
    index: set[tuple[str, int]] | None  # (op_id, seq) from the op-id index, when whole
    max_seq: int | None  # sqlite_sequence for ops: no op ever had a higher seq
    scanned_ops: dict[int, tuple[Value, ...]] = field(default_factory=dict)
    scanned_failed: dict[int, tuple[Value, ...]] = field(default_factory=dict)


# --- layer 1: SQLite, row by row -------------------------------------------------------


def _sqlite_layer(path: Path) -> _Layer | None:
    with tempfile.TemporaryDirectory(prefix="board-salvage-") as tmp:
        copy = Path(tmp) / "damaged.sqlite3"
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        conn = sqlite3.connect(str(copy), isolation_level=None)
        try:
            return _sqlite_read(conn)
        except sqlite3.DatabaseError as exc:
            log.info("salvage: SQLite cannot read the damaged file (%s)", exc)
            return None
        finally:
            conn.close()


def _sqlite_read(conn: sqlite3.Connection) -> _Layer:
    conn.execute("PRAGMA writable_schema=ON")  # a damaged schema entry spoils no other
    conn.execute("PRAGMA query_only=ON")
    objects = {str(r[1]): str(r[0]) for r in conn.execute("SELECT type, name FROM sqlite_schema")}

    def table(name: str, cols: tuple[str, ...]) -> _Table:
        if objects.get(name) != "table":
            return _Table()  # the schema was readable and has no such table: no rows
        try:
            have = {str(r[1]) for r in conn.execute(f'PRAGMA table_info("{name}")')}
            exprs = ", ".join(c if c in have else "NULL" for c in cols)
            return _read_rows(conn, name, exprs)
        except sqlite3.DatabaseError:
            return _Table.unknown()

    ops = table("ops", OPS_COLUMNS)
    failed = table("failed_actions", FAILED_COLUMNS)
    meta = table("meta", META_COLUMNS)
    index = None if ops.complete else _sqlite_index(conn)
    max_seq: int | None = None
    try:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name='ops'").fetchone()
        if row is not None and isinstance(row[0], int):
            max_seq = row[0]
    except sqlite3.DatabaseError:
        pass
    return _Layer(ops, failed, meta, index, max_seq)


def _read_rows(conn: sqlite3.Connection, name: str, exprs: str) -> _Table:
    """Every row SQLite can still read, in rowid order, skipping unreadable pages.

    Python's cursor steps one row ahead, so a bulk read that fails may have held back
    the last good row: after a failure, rows are read one query (LIMIT 1) at a time,
    which never steps past the row it returns.
    """
    t = _Table()
    bulk = f'SELECT rowid, {exprs} FROM "{name}" WHERE rowid > ? ORDER BY rowid'
    fwd = f"{bulk} LIMIT 1"
    back = (
        f'SELECT rowid, {exprs} FROM "{name}" WHERE rowid < ? AND rowid > ?'
        " ORDER BY rowid DESC LIMIT 1"
    )
    pos = _MIN
    while True:
        last = pos
        try:
            for r in conn.execute(bulk, (pos,)):
                t.rows[int(r[0])] = tuple(r[1:])
                last = int(r[0])
            return t
        except sqlite3.DatabaseError:
            pass
        while True:  # one row at a time up to the damage
            try:
                r = conn.execute(fwd, (last,)).fetchone()
            except sqlite3.DatabaseError:
                break
            if r is None:
                return t
            t.rows[int(r[0])] = tuple(r[1:])
            last = int(r[0])
        nxt = _next_readable(conn, name, last)
        if nxt is None:
            t.gaps.append((last + 1, None))
            return t
        # From where seeks work again, read back towards the damage.
        top = nxt
        while top > last + 1:
            try:
                r = conn.execute(back, (top + 1, last)).fetchone()
            except sqlite3.DatabaseError:
                t.gaps.append((last + 1, top))
                break
            if r is None:
                break  # nothing unreadable after all
            t.rows[int(r[0])] = tuple(r[1:])
            top = int(r[0]) - 1
        if nxt >= _MAX:
            return t
        pos = nxt


def _next_readable(conn: sqlite3.Connection, name: str, last: int) -> int | None:
    """The smallest s > last from which a rowid seek works again (None: none does)."""
    q = f'SELECT rowid FROM "{name}" WHERE rowid > ? ORDER BY rowid LIMIT 1'

    def ok(s: int) -> bool:
        try:
            conn.execute(q, (s,)).fetchone()
        except sqlite3.DatabaseError:
            return False
        return True

    lo, step = last, 1
    while True:
        s = min(last + step, _MAX)
        if ok(s):
            hi = s
            break
        lo = s
        if s >= _MAX:
            return None
        step *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _sqlite_index(conn: sqlite3.Connection) -> set[tuple[str, int]] | None:
    """(op_id, seq) of every op, from the unique op-id index alone; None unless whole."""
    try:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_schema WHERE type='index' AND tbl_name='ops'"
            )
        ]
        for name in names:
            cols = [r[2] for r in conn.execute(f'PRAGMA index_info("{name}")')]
            if cols == ["op_id"]:
                rows = conn.execute(
                    f'SELECT op_id, seq FROM ops INDEXED BY "{name}" ORDER BY op_id'
                ).fetchall()
                return {(str(a), int(b)) for a, b in rows}
    except (sqlite3.DatabaseError, TypeError, ValueError):
        return None
    return None


# --- layers 2 and 3: the raw pages -----------------------------------------------------


def _pages_layer(path: Path) -> _Layer | None:
    try:
        img = SqliteImage.read(path)
    except (OSError, PageError) as exc:
        log.info("salvage: no page of the damaged file is readable (%s)", exc)
        return None
    schema = img.walk_table(1)
    objects: dict[str, tuple[str, str, int]] = {}
    for _rowid, payload in schema.rows:
        try:
            entry = decode_record(payload, img.encoding)
        except PageError:
            continue
        if (
            len(entry) >= 4
            and all(isinstance(x, str) for x in entry[:3])
            and isinstance(entry[3], int)
        ):
            objects[str(entry[1])] = (str(entry[0]), str(entry[2]), int(entry[3]))
    schema_whole = schema.complete and bool(objects)
    reached = set(schema.pages)
    walks: dict[str, Walk] = {}
    for name, (kind, _tbl, root) in objects.items():
        if root > 0 and kind in ("table", "index"):
            w = img.walk_table(root) if kind == "table" else img.walk_index(root)
            walks[name] = w
            reached |= w.pages

    def table(name: str, width: int, rowid_alias: bool) -> _Table:
        w = walks.get(name)
        if w is None:
            return _Table() if schema_whole else _Table.unknown()
        return _from_walk(w, img.encoding, width, rowid_alias)

    ops = table("ops", len(OPS_COLUMNS), True)
    failed = table("failed_actions", len(FAILED_COLUMNS), True)
    meta = table("meta", len(META_COLUMNS), False)

    index: set[tuple[str, int]] | None = None
    for name, (kind, tbl, _root) in objects.items():
        iw = walks.get(name)
        if kind == "index" and tbl == "ops" and name.startswith("sqlite_autoindex_ops"):
            if iw is not None and iw.complete:
                index = _index_entries(iw, img.encoding)
    max_seq: int | None = None
    seqs = walks.get("sqlite_sequence")
    if seqs is not None:
        for _rowid, payload in seqs.rows:
            try:
                v = decode_record(payload, img.encoding)
            except PageError:
                continue
            if len(v) == 2 and v[0] == "ops" and isinstance(v[1], int):
                max_seq = v[1]
    layer = _Layer(ops, failed, meta, index, max_seq)
    if not (ops.complete and failed.complete):
        _scan_orphans(img, reached | img.freelist(), layer)
    return layer


def _from_walk(w: Walk, encoding: str, width: int, rowid_alias: bool) -> _Table:
    t = _Table()
    for rowid, payload in w.rows:
        cols = _columns(payload, encoding, width, rowid_alias)
        if cols is None:
            t.bad.add(rowid)
        else:
            t.rows[rowid] = cols
    for cell_rowid in w.bad_cells:
        if cell_rowid is None:
            t.bad_unknown += 1
        else:
            t.bad.add(cell_rowid)
    for lo, hi in w.lost:
        t.gaps.append((_MIN if lo is None else lo + 1, hi))
    return t


def _columns(
    payload: bytes, encoding: str, width: int, rowid_alias: bool
) -> tuple[Value, ...] | None:
    """A record as our columns (without the seq alias), padded like ALTER TABLE ADD."""
    try:
        v = decode_record(payload, encoding)
    except PageError:
        return None
    if rowid_alias:
        if not v or v[0] is not None:
            return None  # INTEGER PRIMARY KEY is stored as NULL in the record
        v = v[1:]
    if not v or len(v) > width + 8:
        return None
    return tuple((v + [None] * width)[:width])


def _index_entries(w: Walk, encoding: str) -> set[tuple[str, int]] | None:
    out: set[tuple[str, int]] = set()
    for _rowid, payload in w.rows:
        try:
            v = decode_record(payload, encoding)
        except PageError:
            return None
        if len(v) != 2 or not isinstance(v[0], str) or not isinstance(v[1], int):
            return None
        out.add((v[0], v[1]))
    return out


def _scan_orphans(img: SqliteImage, skip: set[int], layer: _Layer) -> None:
    """Table leaf pages no intact tree reaches: records shaped like ops / failed rows."""
    for n in range(1, img.page_count + 1):
        if n in skip:
            continue
        try:
            if img.btree_page(n).kind != TABLE_LEAF:
                continue
            cells = list(img.table_leaf_cells(n))
        except PageError:
            continue
        for rowid, payload in cells:
            try:
                v = decode_record(payload, img.encoding)
            except PageError:
                continue
            if not v or v[0] is not None:
                continue
            if len(v) == 1 + len(OPS_COLUMNS):
                cols = tuple(v[1:])
                if _op(cols) is not None:
                    layer.scanned_ops.setdefault(rowid, cols)
            elif len(v) - 1 in _FAILED_LENGTHS:
                cols = tuple([*v[1:], None, None][: len(FAILED_COLUMNS)])
                if _failed(cols) is not None:
                    layer.scanned_failed.setdefault(rowid, cols)


# --- putting the layers together -------------------------------------------------------


def salvage_file(path: Path) -> Salvage:
    """Everything worth keeping in the damaged store file at ``path``; never raises."""
    layers: list[tuple[RecoveryLayer, _Layer]] = []
    try:
        sql = _sqlite_layer(path)
    except Exception:
        log.exception("salvage: reading the damaged file through SQLite failed")
        sql = None
    if sql is not None:
        layers.append((RecoveryLayer.SQLITE, sql))
    if sql is None or not (sql.ops.complete and sql.failed.complete and sql.meta.complete):
        try:
            raw = _pages_layer(path)
        except Exception:
            log.exception("salvage: reading the damaged file's pages failed")
            raw = None
        if raw is not None:
            layers.append((RecoveryLayer.BTREE, raw))
    try:
        result = _merge(layers)
    except Exception:  # pragma: no cover - a bug here must not cost the board
        log.exception("salvage: merging what was read failed")
        result = Salvage()
    log.warning(
        "salvage: %s: %d unsent op(s) recovered, lost %s (at most %s); %d not-applied"
        " entr(ies), lost %s; %d meta key(s); layers %s",
        path,
        len(result.ops),
        result.ops_lost,
        result.ops_lost_at_most,
        len(result.failed),
        result.failed_lost,
        len(result.meta),
        ",".join(result.layers) or "none",
    )
    return result


def _merge(layers: list[tuple[RecoveryLayer, _Layer]]) -> Salvage:
    used = [kind for kind, _ in layers]
    read = [layer for _, layer in layers]
    if not read:
        return Salvage(ops_lost=None, failed_lost=None)

    # ops
    good: dict[int, PendingOp] = {}
    seen_bad: list[set[int]] = []  # per layer: rowids seen whose row does not decode
    for layer in read:
        lb = set(layer.ops.bad)
        for rowid, cols in sorted(layer.ops.rows.items()):
            op = _op(cols)
            if op is None:
                lb.add(rowid)
            elif rowid not in good:
                good[rowid] = op
        seen_bad.append(lb)
    whole = next((i for i, layer in enumerate(read) if layer.ops.complete), None)
    index = next((layer.index for layer in read if layer.index is not None), None)
    scanned = False
    if whole is None:
        for layer in read:
            for rowid, cols in sorted(layer.scanned_ops.items()):
                op = _op(cols)
                if rowid in good or op is None:
                    continue
                if index is not None and (op.op_id, rowid) not in index:
                    continue  # not in the live table: a stale copy
                good[rowid] = op
                scanned = True
    good = _dedupe(good)
    bad = set().union(*seen_bad) - good.keys()
    ops_lost: int | None = None
    lost_ids: tuple[str, ...] = ()
    if whole is not None:
        ops_lost = len(seen_bad[whole] - good.keys()) + read[whole].ops.bad_unknown
    elif index is not None and all((op.op_id, r) in index for r, op in good.items()):
        missing = sorted((r, op_id) for op_id, r in index if r not in good)
        ops_lost = len(missing)
        lost_ids = tuple(op_id for _r, op_id in missing)
    at_most = ops_lost
    if ops_lost is None:
        # A lost op is in every layer's unreadable ranges, or was seen and is bad.
        max_seq = next((layer.max_seq for layer in read if layer.max_seq is not None), None)
        bounds = [
            b + len(bad) + layer.ops.bad_unknown
            for layer in read
            if (b := _bound(layer.ops.gaps, max_seq, good.keys() | bad)) is not None
        ]
        at_most = min(bounds) if bounds else None

    # the not-applied list (no index: the loss is known only when a layer read it all)
    fgood: dict[int, FailedAction] = {}
    fseen_bad: list[set[int]] = []
    for layer in read:
        lb = set(layer.failed.bad)
        for rowid, cols in sorted(layer.failed.rows.items()):
            fa = _failed(cols)
            if fa is None:
                lb.add(rowid)
            elif rowid not in fgood:
                fgood[rowid] = fa
        fseen_bad.append(lb)
    fwhole = next((i for i, layer in enumerate(read) if layer.failed.complete), None)
    if fwhole is None:
        for layer in read:
            for rowid, cols in sorted(layer.scanned_failed.items()):
                fa = _failed(cols)
                if rowid not in fgood and fa is not None:
                    fgood[rowid] = fa
                    scanned = True
    failed_lost = (
        None
        if fwhole is None
        else len(fseen_bad[fwhole] - fgood.keys()) + read[fwhole].failed.bad_unknown
    )

    # meta (no accounting: the sync engine rewrites the kitchen's name and time zone)
    meta: dict[str, str] = {}
    for layer in read:
        for _rowid, cols in sorted(layer.meta.rows.items()):
            kv = _meta(cols)
            if kv is not None:
                meta.setdefault(*kv)

    if scanned:
        used.append(RecoveryLayer.PAGE_SCAN)
    return Salvage(
        ops=tuple(sorted(good.items())),
        failed=tuple(sorted(fgood.items())),
        meta=tuple(sorted(meta.items())),
        ops_lost=ops_lost,
        ops_lost_at_most=at_most,
        lost_op_ids=lost_ids,
        failed_lost=failed_lost,
        layers=tuple(used),
    )


def _dedupe(ops: Mapping[int, PendingOp]) -> dict[int, PendingOp]:
    """One row per op id: the one tried most often (its latest state), then the first."""
    best: dict[str, tuple[int, PendingOp]] = {}
    for seq, op in sorted(ops.items()):
        cur = best.get(op.op_id)
        if cur is None or op.attempts > cur[1].attempts:
            best[op.op_id] = (seq, op)
    return dict(best.values())


def _bound(
    gaps: list[tuple[int, int | None]], max_seq: int | None, known: Iterable[int]
) -> int | None:
    """How many ops could hide in the unreadable seq ranges (seq >= 1, <= max_seq)."""
    seen = set(known)
    total = 0
    for lo, hi in gaps:
        lo = max(lo, 1)
        if hi is None:
            if max_seq is None:
                return None
            hi = max_seq
        if max_seq is not None:
            hi = min(hi, max_seq)
        if hi < lo:
            continue
        total += hi - lo + 1 - sum(1 for r in seen if lo <= r <= hi)
    return total
