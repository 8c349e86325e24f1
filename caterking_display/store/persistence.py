"""The SQLite file behind the store: schema, migrations and row codecs.

One connection, WAL journal, explicit transactions. Confirmed server rows are
written with ``synchronous=NORMAL`` (a resync rebuilds them); the outbox, the failed
list and meta are written with ``synchronous=FULL`` so a chef's action is on disk
before anything shows it.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from caterking_display.domain.actions import Action
from caterking_display.domain.board import FailedAction, PendingOp, Winner
from caterking_display.domain.estimates import Estimate
from caterking_display.domain.task import RowError, Staff, Status, Task

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS tasks (
    id      TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    row     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tombstones (
    id      TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    seq     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS staff (
    id  TEXT PRIMARY KEY,
    row TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ops (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id      TEXT NOT NULL UNIQUE,
    action     TEXT NOT NULL,
    task_id    TEXT NOT NULL,
    staff_id   TEXT NOT NULL,
    device     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS failed_actions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id      TEXT NOT NULL,
    action     TEXT NOT NULL,
    task_id    TEXT NOT NULL,
    staff_id   TEXT NOT NULL,
    device     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT,
    outcome    TEXT NOT NULL,
    reason     TEXT,
    task_title TEXT,
    at         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS store_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# v2: the failed list keeps what the chef was told (conflicts are listed too).
_SCHEMA_V2 = "ALTER TABLE failed_actions ADD COLUMN message TEXT;"

# v3: learned prep estimates, per (task kind, station): server truth like the tasks.
_SCHEMA_V3 = """
CREATE TABLE IF NOT EXISTS estimates (
    kind    TEXT NOT NULL,
    station TEXT NOT NULL,
    row     TEXT NOT NULL,
    PRIMARY KEY (kind, station)
);
"""

# v4: a conflict in the failed list keeps the facts of who won (JSON), not words; the
# UI words them. Entries written before keep their words in `message`.
_SCHEMA_V4 = "ALTER TABLE failed_actions ADD COLUMN winner TEXT;"

# user_version -> script that upgrades a file from that version to the next one.
_MIGRATIONS: dict[int, str] = {0: _SCHEMA_V1, 1: _SCHEMA_V2, 2: _SCHEMA_V3, 3: _SCHEMA_V4}

# Deleted ids remembered so a late, stale event cannot bring a task back.
TOMBSTONE_LIMIT = 5000


class StoreFormatError(Exception):
    """The file is not a store this version can read (corrupt, or from a newer app)."""


class StoreTooNewError(StoreFormatError):
    """The file was written by a newer version of the app (a schema this one cannot read)."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """Everything read from the file at open."""

    tasks: dict[str, Task]
    tombstones: dict[str, int]
    staff: dict[str, Staff]
    ops: list[PendingOp]
    failed: list[FailedAction]
    meta: dict[str, str]
    saved_at: datetime | None
    estimates: dict[tuple[str, str], Estimate] = field(default_factory=dict)


def _ts(value: datetime) -> str:
    return value.isoformat()


def _parse_ts(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without time zone {value!r}")
    return parsed


def _private_file(path: Path) -> None:
    """The board's file and its journals are readable by this user only (0600; SQLite
    gives -wal and -shm the mode of the database file), in a 0700 directory."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if p.exists():
                os.chmod(p, 0o600)
    except OSError as exc:  # SQLite will say what is wrong with the path
        log.warning("store: cannot make %s private: %s", path, exc)


class Persistence:
    """The store's SQLite file (or an in-memory database when ``path`` is None)."""

    def __init__(self, path: Path | None, *, check: bool = False) -> None:
        self.path = path
        target = ":memory:" if path is None else str(path)
        if path is not None:
            _private_file(path)
        self._lock = threading.RLock()
        # isolation_level=None: we issue BEGIN/COMMIT ourselves.
        self._conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        try:
            self._setup(check)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreFormatError(f"cannot read store file: {exc}") from exc
        except StoreFormatError:
            self._conn.close()
            raise

    # --- setup ---------------------------------------------------------------

    def _setup(self, check: bool) -> None:
        c = self._conn
        if self.path is not None:
            mode = c.execute("PRAGMA journal_mode=WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                log.warning("store: WAL journal not available (got %r)", mode)
        c.execute("PRAGMA synchronous=FULL")
        c.execute("PRAGMA foreign_keys=OFF")
        if check:
            result = c.execute("PRAGMA quick_check").fetchall()
            if [tuple(r) for r in result] != [("ok",)]:
                raise StoreFormatError(f"integrity check failed: {result[:3]!r}")
        version = int(c.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreTooNewError(
                f"store file has schema version {version}; this app reads up to {SCHEMA_VERSION}"
            )
        while version < SCHEMA_VERSION:
            script = _MIGRATIONS[version]
            c.execute("BEGIN IMMEDIATE")
            try:
                for stmt in script.split(";"):
                    if stmt.strip():
                        c.execute(stmt)
                c.execute(f"PRAGMA user_version={version + 1}")
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            version += 1

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error:  # pragma: no cover - closing never matters
                log.exception("store: error while closing")

    @contextmanager
    def transaction(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
        """One write transaction; ``durable`` = fsync on commit (synchronous=FULL)."""
        with self._lock:
            c = self._conn
            c.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    # --- load ----------------------------------------------------------------

    def load(self) -> Loaded:
        """Read the whole file. Rows that no longer decode are logged and dropped."""
        with self._lock:
            c = self._conn
            tasks, bad_tasks = _decode_rows(
                c.execute("SELECT id, row FROM tasks"), Task.from_row, "task"
            )
            tombstones = {tid: int(v) for tid, v in c.execute("SELECT id, version FROM tombstones")}
            staff, bad_staff = _decode_rows(
                c.execute("SELECT id, row FROM staff"), Staff.from_row, "staff"
            )
            ops: list[PendingOp] = []
            bad_ops: list[str] = []
            for r in c.execute(
                "SELECT op_id, action, task_id, staff_id, device, created_at, attempts,"
                " last_error FROM ops ORDER BY seq"
            ):
                try:
                    ops.append(_op_from_db(r))
                except (ValueError, TypeError) as exc:
                    log.warning("store: dropping unreadable pending op %s: %s", r[0], exc)
                    bad_ops.append(r[0])
            failed: list[FailedAction] = []
            for r in c.execute(
                "SELECT op_id, action, task_id, staff_id, device, created_at, attempts,"
                " last_error, outcome, reason, task_title, at, message, winner FROM failed_actions"
                " ORDER BY seq"
            ):
                try:
                    failed.append(_failed_from_db(r))
                except (ValueError, TypeError) as exc:
                    log.warning("store: dropping unreadable failed action %s: %s", r[0], exc)
            meta = {k: v for k, v in c.execute("SELECT key, value FROM meta")}
            saved_at: datetime | None = None
            row_s = c.execute("SELECT value FROM store_state WHERE key='saved_at'").fetchone()
            if row_s is not None:
                try:
                    saved_at = _parse_ts(row_s[0])
                except ValueError:
                    log.warning("store: unreadable saved_at %r", row_s[0])
            estimates: dict[tuple[str, str], Estimate] = {}
            for kind, station, raw in c.execute("SELECT kind, station, row FROM estimates"):
                try:
                    estimates[(kind, station)] = Estimate.from_row(json.loads(raw))
                except (ValueError, RowError, TypeError) as exc:
                    log.warning("store: dropping unreadable estimate %s/%s: %s", kind, station, exc)
        if bad_tasks or bad_staff or bad_ops:
            with self.transaction(durable=True) as t:
                t.executemany("DELETE FROM tasks WHERE id=?", [(i,) for i in bad_tasks])
                t.executemany("DELETE FROM staff WHERE id=?", [(i,) for i in bad_staff])
                t.executemany("DELETE FROM ops WHERE op_id=?", [(i,) for i in bad_ops])
        return Loaded(tasks, tombstones, staff, ops, failed, meta, saved_at, estimates)

    def get_state(self, key: str) -> str | None:
        """A ``store_state`` value (None when absent)."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM store_state WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def set_state(c: sqlite3.Connection, key: str, value: str) -> None:
        c.execute(
            "INSERT INTO store_state(key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    @staticmethod
    def delete_state(c: sqlite3.Connection, key: str) -> None:
        c.execute("DELETE FROM store_state WHERE key=?", (key,))

    # --- confirmed rows --------------------------------------------------------

    @staticmethod
    def upsert_task(c: sqlite3.Connection, task: Task) -> None:
        c.execute(
            "INSERT INTO tasks(id, version, row) VALUES (?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET version=excluded.version, row=excluded.row",
            (task.id, task.version, json.dumps(task.to_row(), separators=(",", ":"))),
        )

    @staticmethod
    def delete_tasks(c: sqlite3.Connection, ids: Iterable[str]) -> None:
        c.executemany("DELETE FROM tasks WHERE id=?", [(i,) for i in ids])

    @staticmethod
    def add_tombstone(c: sqlite3.Connection, task_id: str, version: int) -> None:
        c.execute(
            "INSERT INTO tombstones(id, version, seq)"
            " VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tombstones))"
            " ON CONFLICT(id) DO UPDATE SET version=MAX(version, excluded.version)",
            (task_id, version),
        )
        c.execute(
            "DELETE FROM tombstones WHERE seq <= (SELECT MAX(seq) FROM tombstones) - ?",
            (TOMBSTONE_LIMIT,),
        )

    @staticmethod
    def remove_tombstones(c: sqlite3.Connection, ids: Iterable[str]) -> None:
        c.executemany("DELETE FROM tombstones WHERE id=?", [(i,) for i in ids])

    @staticmethod
    def replace_staff(c: sqlite3.Connection, staff: Iterable[Staff]) -> None:
        c.execute("DELETE FROM staff")
        c.executemany(
            "INSERT INTO staff(id, row) VALUES (?, ?)",
            [(s.id, json.dumps(s.to_row(), separators=(",", ":"))) for s in staff],
        )

    @staticmethod
    def upsert_staff(c: sqlite3.Connection, staff: Staff) -> None:
        c.execute(
            "INSERT INTO staff(id, row) VALUES (?, ?)"
            " ON CONFLICT(id) DO UPDATE SET row=excluded.row",
            (staff.id, json.dumps(staff.to_row(), separators=(",", ":"))),
        )

    @staticmethod
    def upsert_estimate(c: sqlite3.Connection, est: Estimate) -> None:
        c.execute(
            "INSERT INTO estimates(kind, station, row) VALUES (?, ?, ?)"
            " ON CONFLICT(kind, station) DO UPDATE SET row=excluded.row",
            (est.kind, est.station, json.dumps(est.to_row(), separators=(",", ":"))),
        )

    @staticmethod
    def replace_estimates(c: sqlite3.Connection, estimates: Iterable[Estimate]) -> None:
        c.execute("DELETE FROM estimates")
        c.executemany(
            "INSERT INTO estimates(kind, station, row) VALUES (?, ?, ?)",
            [(e.kind, e.station, json.dumps(e.to_row(), separators=(",", ":"))) for e in estimates],
        )

    @staticmethod
    def set_saved_at(c: sqlite3.Connection, at: datetime) -> None:
        c.execute(
            "INSERT INTO store_state(key, value) VALUES ('saved_at', ?)"
            " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (_ts(at),),
        )

    # --- outbox ------------------------------------------------------------------

    @staticmethod
    def insert_op(c: sqlite3.Connection, op: PendingOp, seq: int | None = None) -> None:
        """Queue ``op``; ``seq`` keeps its place from another file (salvage), else next."""
        c.execute(
            "INSERT INTO ops(seq, op_id, action, task_id, staff_id, device, created_at, attempts,"
            " last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                op.op_id,
                op.action.value,
                op.task_id,
                op.staff_id,
                op.device,
                _ts(op.created_at),
                op.attempts,
                op.last_error,
            ),
        )

    @staticmethod
    def update_op_attempts(c: sqlite3.Connection, op: PendingOp) -> None:
        c.execute(
            "UPDATE ops SET attempts=?, last_error=? WHERE op_id=?",
            (op.attempts, op.last_error, op.op_id),
        )

    @staticmethod
    def delete_op(c: sqlite3.Connection, op_id: str) -> None:
        c.execute("DELETE FROM ops WHERE op_id=?", (op_id,))

    @staticmethod
    def insert_failed(c: sqlite3.Connection, fa: FailedAction, seq: int | None = None) -> None:
        op = fa.op
        c.execute(
            "INSERT INTO failed_actions(seq, op_id, action, task_id, staff_id, device,"
            " created_at, attempts, last_error, outcome, reason, task_title, at, message,"
            " winner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                op.op_id,
                op.action.value,
                op.task_id,
                op.staff_id,
                op.device,
                _ts(op.created_at),
                op.attempts,
                op.last_error,
                fa.outcome,
                fa.reason,
                fa.task_title,
                _ts(fa.at),
                fa.message,
                winner_to_json(fa.winner),
            ),
        )

    @staticmethod
    def clear_failed(c: sqlite3.Connection) -> None:
        c.execute("DELETE FROM failed_actions")

    # --- meta --------------------------------------------------------------------

    @staticmethod
    def set_meta(c: sqlite3.Connection, key: str, value: str) -> None:
        c.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )


T = TypeVar("T")


def _decode_rows(
    rows: Iterable[tuple[str, str]], parse: Callable[[dict[str, Any]], T], what: str
) -> tuple[dict[str, T], list[str]]:
    """JSON rows by id; rows that no longer decode are logged and listed for deletion."""
    good: dict[str, T] = {}
    bad: list[str] = []
    for row_id, raw in rows:
        try:
            good[row_id] = parse(json.loads(raw))
        except (ValueError, RowError, TypeError) as exc:
            log.warning("store: dropping unreadable %s row %s: %s", what, row_id, exc)
            bad.append(row_id)
    return good, bad


def _failed_from_db(r: tuple[Any, ...]) -> FailedAction:
    """A failed_actions row (op columns, outcome, reason, task_title, at, message,
    winner)."""
    return FailedAction(
        op=_op_from_db(r[:8]),
        outcome=str(r[8]),
        reason=r[9],
        task_title=r[10],
        at=_parse_ts(r[11]),
        message=r[12],
        winner=winner_from_json(r[13] if len(r) > 13 else None),
    )


def winner_to_json(w: Winner | None) -> str | None:
    if w is None:
        return None
    return json.dumps({"status": w.status.value, "staff_id": w.staff_id, "name": w.staff_name})


def winner_from_json(raw: object) -> Winner | None:
    """The stored facts, or None when absent or unreadable (the entry still shows)."""
    if not isinstance(raw, str):
        return None
    try:
        d = json.loads(raw)
        status = Status(d["status"])
    except (ValueError, KeyError, TypeError):
        return None
    staff_id, name = d.get("staff_id"), d.get("name")
    return Winner(
        status,
        staff_id if isinstance(staff_id, str) else None,
        name if isinstance(name, str) else None,
    )


def _op_from_db(r: tuple[Any, ...]) -> PendingOp:
    op_id, action, task_id, staff_id, device, created_at, attempts, last_error = r
    return PendingOp(
        op_id=str(op_id),
        action=Action(action),
        task_id=str(task_id),
        staff_id=str(staff_id),
        device=str(device),
        created_at=_parse_ts(str(created_at)),
        attempts=int(attempts),
        last_error=last_error,
    )
