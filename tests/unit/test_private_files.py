"""The board's file, its journals and its log are this user's only (issue 10, item 6):
they hold the kitchen's work and, in the log, what the device did."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from caterking_display.app_main import setup_logging
from caterking_display.domain.actions import Action
from caterking_display.store import BoardStore
from tests.store.factory import DEVICE, ME, make_clock, task, tid


def mode(p: Path) -> int:
    return p.stat().st_mode & 0o777


def test_store_file_and_journals_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    s = BoardStore.open(data / "board.sqlite3", make_clock(), DEVICE)
    s.apply_server_task(task(1))
    s.enqueue(Action.CLAIM, tid(1), ME)
    wal = data / "board.sqlite3-wal"
    assert mode(data) == 0o700
    assert mode(data / "board.sqlite3") == 0o600
    assert wal.exists() and mode(wal) == 0o600
    s.close()
    # A file made by an earlier version (0644) is made private when opened.
    os.chmod(data / "board.sqlite3", 0o644)
    BoardStore.open(data / "board.sqlite3", make_clock(), DEVICE).close()
    assert mode(data / "board.sqlite3") == 0o600


def test_log_is_private_also_after_rotation(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        path = setup_logging(tmp_path / "d")
        handler = root.handlers[0]
        assert mode(tmp_path / "d") == 0o700 and mode(path) == 0o600
        logging.getLogger("caterking_display").info("x" * 100)
        handler.doRollover()  # type: ignore[attr-defined]
        logging.getLogger("caterking_display").info("after the roll")
        assert mode(path) == 0o600
        assert mode(path.with_name("display.log.1")) == 0o600
        handler.close()
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
