"""replace_board: the pull after every (re)subscribe, merged by version."""

from __future__ import annotations

from pathlib import Path

from caterking_display.domain.actions import Action
from caterking_display.domain.task import Status
from caterking_display.store import STAFF_CHANGED

from .factory import (
    BEN,
    MARIA,
    ME,
    STAFF,
    Recorder,
    claimed,
    done,
    make_clock,
    new_store,
    staff,
    task,
    tid,
)


def test_drops_missing_ids_keeps_pending_ops_and_never_goes_backwards() -> None:
    clock = make_clock()
    s = new_store(clock=clock)
    s.replace_board([task(1, 1), task(2, 1), done(3, 5, BEN)], STAFF)
    op = s.enqueue(Action.CLAIM, tid(1), ME)
    clock.advance(60)
    rec = Recorder()
    s.subscribe(rec)

    # the fetch lost task 2, has an older row for 3 and a newer one for 1
    s.replace_board([task(1, 2, title="Dice onions"), claimed(3, 4, MARIA), task(4, 1)], STAFF)

    view = s.view()
    assert set(view.tasks) == {tid(1), tid(3), tid(4)}
    assert view.tasks[tid(3)].task == done(3, 5, BEN)  # not backwards
    one = view.tasks[tid(1)]
    assert one.pending and one.task.version == 2 and one.task.title == "Dice onions"
    assert one.task.claimed_by == ME  # the pending claim is still on top
    assert s.pending_ops() == [op]
    assert s.saved_at == clock.now() and view.saved_at == clock.now()
    assert rec.calls == [frozenset({tid(1), tid(2), tid(4)})]


def test_changed_ids_are_exact_and_staff_changes_are_reported() -> None:
    s = new_store()
    s.replace_board([task(1, 1), task(2, 1)], STAFF)
    rec = Recorder()
    s.subscribe(rec)
    s.replace_board([task(1, 1), task(2, 1)], STAFF)  # nothing new
    assert rec.calls == []
    s.replace_board([task(1, 1), task(2, 1)], [*STAFF[:2], staff(ME, "Sam", active=False)])
    assert rec.calls == [frozenset({STAFF_CHANGED})]
    assert s.view().staff[ME].active is False


def test_saved_at_and_board_survive_restart_for_an_offline_start(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    clock = make_clock()
    s = new_store(path, clock)
    assert s.saved_at is None
    s.replace_board([task(1, 1), claimed(2, 3, MARIA)], STAFF)
    clock.advance(3600)
    s.apply_server_task(task(1, 2))  # a live event: the board was current up to now
    saved = clock.now()
    s.close()

    again = new_store(path, clock)
    assert again.saved_at == saved
    view = again.view()
    assert view.saved_at == saved
    assert view.staff_name(MARIA) == "Maria"
    assert view.tasks[tid(1)].task.version == 2
    assert view.tasks[tid(2)].task.status is Status.CLAIMED
    again.close()


def test_a_deleted_task_in_a_stale_fetch_stays_deleted() -> None:
    s = new_store()
    s.replace_board([task(1, 3)], STAFF)
    s.apply_server_delete(tid(1))
    s.replace_board([task(1, 3)], STAFF)  # fetched before the delete landed
    assert s.get(tid(1)) is None
    s.replace_board([task(1, 4)], STAFF)  # really back, newer
    assert s.get(tid(1)) is not None


def test_mark_confirmed_moves_saved_at() -> None:
    clock = make_clock()
    s = new_store(clock=clock)
    clock.advance(10)
    s.mark_confirmed()
    assert s.saved_at == clock.now() and s.view().saved_at == clock.now()
