"""Opening the file: corrupt files are moved aside (and salvaged: see
test_store_salvage.py), meta persists."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from caterking_display.domain.actions import Action
from caterking_display.store import BoardStore
from caterking_display.store.persistence import (
    _SCHEMA_V1,
    _SCHEMA_V2,
    _SCHEMA_V3,
    SCHEMA_VERSION,
)

from .factory import DEVICE, ME, STAFF, make_clock, task, tid


def test_garbage_file_is_moved_aside_and_a_fresh_store_opens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "board.db"
    garbage = b"this is not sqlite\x00\xff" * 200
    path.write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="caterking_display.store"):
        s = BoardStore.open(path, make_clock(), DEVICE)
    assert s.view().tasks == {} and s.pending_ops() == []
    [aside] = list(tmp_path.glob("board.db.corrupt-*"))
    assert aside.name == "board.db.corrupt-20250314T093000Z"
    assert aside.read_bytes() == garbage
    assert any("unreadable" in r.getMessage() for r in caplog.records)
    report = s.recovery  # nothing readable: nothing carried, and the loss is unknown
    assert report is not None and report.moved_to == aside
    assert (report.ops_recovered, report.ops_lost, report.layers) == (0, None, ())
    # the fresh file works and persists
    s.replace_board([task(1)], STAFF)
    op = s.enqueue(Action.CLAIM, tid(1), ME)
    s.close()
    again = BoardStore.open(path, make_clock(), DEVICE)
    assert [o.op_id for o in again.pending_ops()] == [op.op_id]
    assert len(list(tmp_path.glob("board.db.corrupt-*"))) == 1
    assert again.recovery == report  # until someone acknowledges it
    again.close()


def test_a_second_corrupt_file_at_the_same_second_gets_its_own_name(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    for _ in range(2):
        path.write_bytes(b"garbage" * 100)
        BoardStore.open(path, make_clock(), DEVICE).close()
    assert len(list(tmp_path.glob("board.db.corrupt-*"))) == 2


def test_file_from_a_newer_app_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    with sqlite3.connect(path) as c:
        c.execute("PRAGMA user_version=99")
    s = BoardStore.open(path, make_clock(), DEVICE)
    assert len(list(tmp_path.glob("board.db.corrupt-*"))) == 1
    report = s.recovery
    assert report is not None and report.cause == "newer_version"
    assert report.ops_lost == 0  # its schema was readable and held no outbox
    s.close()
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_version_1_file_is_upgraded_and_keeps_its_failed_actions(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    with sqlite3.connect(path) as c:
        c.executescript(_SCHEMA_V1)
        c.execute(
            "INSERT INTO failed_actions(op_id, action, task_id, staff_id, device, created_at,"
            " attempts, last_error, outcome, reason, task_title, at)"
            " VALUES ('op1', 'claim', ?, ?, 'd', '2025-03-14T09:30:00+00:00', 0, NULL,"
            " 'rejected', 'inactive_staff', 'Dice onions', '2025-03-14T09:30:00+00:00')",
            (tid(1), ME),
        )
        c.execute("PRAGMA user_version=1")
    s = BoardStore.open(path, make_clock(), DEVICE)
    [failed] = s.failed_actions()
    assert failed.reason == "inactive_staff" and failed.message is None
    s.close()
    assert not list(tmp_path.glob("board.db.corrupt-*"))
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_version_3_file_keeps_the_words_its_conflicts_were_shown_with(tmp_path: Path) -> None:
    # Before v4 a conflict kept the words shown ("Already claimed by Jo"), not the facts.
    path = tmp_path / "board.db"
    with sqlite3.connect(path) as c:
        c.executescript(_SCHEMA_V1 + _SCHEMA_V2 + _SCHEMA_V3)
        c.execute(
            "INSERT INTO failed_actions(op_id, action, task_id, staff_id, device, created_at,"
            " attempts, last_error, outcome, reason, task_title, at, message)"
            " VALUES ('op1', 'claim', ?, ?, 'd', '2025-03-14T09:30:00+00:00', 1, NULL,"
            " 'conflict', 'conflict', 'Roast', '2025-03-14T09:30:00+00:00',"
            " 'Already claimed by Jo')",
            (tid(1), ME),
        )
        c.execute("PRAGMA user_version=3")
    s = BoardStore.open(path, make_clock(), DEVICE)
    [failed] = s.failed_actions()
    assert failed.message == "Already claimed by Jo" and failed.winner is None
    s.close()
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def test_open_never_raises_even_when_the_directory_is_unusable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data dir should be")
    s = BoardStore.open(blocker / "board.db", make_clock(), DEVICE)
    s.replace_board([task(1)], STAFF)  # works, in memory
    assert s.get(tid(1)) is not None
    s.close()


def test_meta_persists(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    s = BoardStore.open(path, make_clock(), DEVICE)
    assert s.get_meta("last_chef") is None
    s.set_meta("last_chef", ME)
    s.set_meta("kitchen_name", "Main")
    s.set_meta("kitchen_name", "Main kitchen")
    s.close()
    again = BoardStore.open(path, make_clock(), DEVICE)
    assert again.get_meta("last_chef") == ME
    assert again.get_meta("kitchen_name") == "Main kitchen"
    again.close()
