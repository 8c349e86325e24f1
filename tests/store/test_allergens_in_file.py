"""Board files keep allergens, and files written before allergens existed still load."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from caterking_display.store import BoardStore

from .factory import DEVICE, STAFF, make_clock, task, tid


def test_allergens_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    s = BoardStore.open(path, make_clock(), DEVICE)
    s.replace_board([task(1, allergens=("gluten", "eggs", "milk"))], STAFF)
    s.close()
    again = BoardStore.open(path, make_clock(), DEVICE)
    loaded = again.get(tid(1))
    assert loaded is not None and loaded.task.allergens == ("gluten", "eggs", "milk")
    again.close()


def test_a_row_saved_by_the_previous_version_loads_with_no_allergens(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    s = BoardStore.open(path, make_clock(), DEVICE)
    s.replace_board([task(1, notes="For the Hughes wedding")], STAFF)
    s.close()
    with sqlite3.connect(path) as c:  # as the previous version wrote it: no such key
        (raw,) = c.execute("SELECT row FROM tasks WHERE id = ?", (tid(1),)).fetchone()
        row = json.loads(raw)
        del row["allergens"]
        c.execute("UPDATE tasks SET row = ? WHERE id = ?", (json.dumps(row), tid(1)))
    again = BoardStore.open(path, make_clock(), DEVICE)
    loaded = again.get(tid(1))
    assert loaded is not None
    assert (loaded.task.allergens, loaded.task.notes) == ((), "For the Hughes wedding")
    assert not list(tmp_path.glob("board.db.corrupt-*"))
    again.close()
