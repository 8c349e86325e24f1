"""A board that runs for days holds what a fresh one would: finished tasks older than
the board's history window are forgotten (found in the soak: 20 boards kept every task
of a 2-hour accelerated kitchen, and their memory grew with it)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from caterking_display.domain.actions import Action
from caterking_display.domain.board import BOARD_HISTORY
from caterking_display.domain.task import Status
from tests.store.factory import ME, STAFF, T0, Recorder, done, new_store, task, tid


def test_old_finished_tasks_are_forgotten_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "board.sqlite3"
    store = new_store(path)
    old = T0 - BOARD_HISTORY - timedelta(minutes=1)
    store.replace_board(
        [
            done(1, 2, ME).evolve(updated_at=old),  # finished long ago: goes
            done(2, 2, ME).evolve(updated_at=T0),  # finished just now: stays
            task(3, updated_at=old),  # still to do, however old: stays
            task(4, 2, Status.CLAIMED, claimed_by=ME, updated_at=old),  # in progress: stays
            done(5, 2, ME).evolve(updated_at=old),  # old, but a chef just recalled it: stays
            task(6, 2, Status.CANCELLED, updated_at=old),  # cancelled long ago: goes
        ],
        STAFF,
    )
    store.enqueue(Action.REOPEN, tid(5), ME)
    rec = Recorder()
    store.subscribe(rec)

    assert store.forget_finished(T0 - BOARD_HISTORY) == 2
    assert store.get(tid(1)) is None and store.confirmed(tid(6)) is None
    assert {t for t in store.view().tasks} == {tid(2), tid(3), tid(4), tid(5)}
    assert rec.calls[-1] == frozenset({tid(1)})  # a cancelled task was never on show
    assert store.forget_finished(T0 - BOARD_HISTORY) == 0  # nothing more to forget
    store.close()

    again = new_store(path)  # gone from the file too
    assert again.get(tid(1)) is None and again.get(tid(2)) is not None
    # Not a delete: a later change of the task (reopened by the office) brings it back.
    assert again.apply_server_task(task(1, 3, updated_at=T0))
    assert again.get(tid(1)) is not None
    again.close()
