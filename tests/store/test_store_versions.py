"""Confirmed rows merge by version: an id never goes backwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from caterking_display.domain.task import Status
from caterking_display.store import overlay as overlay_mod
from caterking_display.store.persistence import SCHEMA_VERSION

from .factory import BEN, MARIA, Recorder, claimed, done, new_store, task, tid


def test_newer_version_applies_and_older_or_equal_is_ignored() -> None:
    s = new_store()
    assert s.apply_server_task(task(1, version=2)) is True
    rec = Recorder()
    s.subscribe(rec)

    assert s.apply_server_task(claimed(1, 1, MARIA)) is False  # older
    assert s.apply_server_task(claimed(1, 2, MARIA)) is False  # equal
    vt = s.get(tid(1))
    assert vt is not None and vt.task.status is Status.PENDING and vt.task.version == 2
    assert rec.calls == []

    assert s.apply_server_task(claimed(1, 3, MARIA)) is True
    vt = s.get(tid(1))
    assert vt is not None and vt.task.claimed_by == MARIA and vt.task.version == 3
    assert rec.calls == [frozenset({tid(1)})]


def test_events_arriving_out_of_order_settle_on_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    s = new_store(path)
    for t in (task(1, 1), done(1, 3, BEN), claimed(1, 2, MARIA)):
        s.apply_server_task(t)
    vt = s.get(tid(1))
    assert vt is not None and vt.task.version == 3 and vt.task.status is Status.DONE
    s.close()

    again = new_store(path)
    vt = again.get(tid(1))
    assert vt is not None and vt.task == done(1, 3, BEN)
    assert again.apply_server_task(claimed(1, 2, MARIA)) is False
    again.close()


def test_delete_then_stale_event_does_not_resurrect(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    s = new_store(path)
    s.apply_server_task(task(1, 4))
    assert s.apply_server_delete(tid(1)) is True
    assert s.apply_server_delete(tid(1)) is False
    assert s.get(tid(1)) is None
    assert s.apply_server_task(claimed(1, 4, MARIA)) is False
    s.close()

    again = new_store(path)  # the tombstone is persisted
    assert again.apply_server_task(claimed(1, 3, MARIA)) is False
    assert again.get(tid(1)) is None
    assert again.apply_server_task(claimed(1, 5, MARIA)) is True
    assert again.get(tid(1)) is not None
    again.close()


def test_apply_server_task_is_one_small_write(tmp_path: Path) -> None:
    s = new_store(tmp_path / "board.db")
    s.replace_board([task(n) for n in range(200)], [])
    statements: list[str] = []
    s._db._conn.set_trace_callback(statements.append)
    assert s.apply_server_task(claimed(7, 2, MARIA))
    writes = [q for q in statements if q.split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}]
    # The row, and the time of the last server change (the Offline banner's "saved at").
    assert len(writes) == 2, statements
    assert writes[0].startswith("INSERT INTO tasks")
    assert writes[1].startswith("INSERT INTO store_state")
    assert sum(1 for q in statements if q.upper().startswith("COMMIT")) == 1
    s.close()


def test_view_is_incremental_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    s = new_store()
    s.replace_board([task(n) for n in range(1000)], [])
    first = s.view()
    assert len(first.tasks) == 1000
    assert s.view() is first  # nothing changed: the same snapshot

    calls: list[str | None] = []
    real = overlay_mod.view_task

    def counting(confirmed, ops):  # type: ignore[no-untyped-def]
        calls.append(None if confirmed is None else confirmed.id)
        return real(confirmed, ops)

    monkeypatch.setattr(overlay_mod, "view_task", counting)
    s.apply_server_task(claimed(500, 2, MARIA))
    after = s.view()
    assert calls == [tid(500)]
    assert after is not first
    assert after.tasks[tid(500)].task.claimed_by == MARIA
    assert first.tasks[tid(500)].task.claimed_by is None  # old snapshot untouched
    assert len(after.tasks) == 1000


def test_cancelled_is_kept_confirmed_but_not_shown_and_done_is_shown() -> None:
    s = new_store()
    s.apply_server_task(task(1, 1))
    s.apply_server_task(done(2, 2, BEN))
    rec = Recorder()
    s.subscribe(rec)
    s.apply_server_task(task(1, 2, Status.CANCELLED))
    assert rec.calls == [frozenset({tid(1)})]
    assert tid(1) not in s.view().tasks and s.get(tid(1)) is None
    confirmed = s.confirmed(tid(1))
    assert confirmed is not None and confirmed.status is Status.CANCELLED
    assert s.apply_server_task(task(1, 1)) is False  # still versioned
    assert tid(2) in s.view().tasks


def test_file_uses_wal_and_a_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    new_store(path).close()
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
