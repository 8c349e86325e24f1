"""The outbox: optimistic overlay, server answers, failures, durability and order."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from caterking_display.domain.actions import Action, Outcome
from caterking_display.domain.board import Notice, NoticeKind, Winner
from caterking_display.domain.task import Status

from .factory import (
    BEN,
    DEVICE,
    MARIA,
    ME,
    STAFF,
    T0,
    Recorder,
    claimed,
    done,
    make_clock,
    new_store,
    task,
    tid,
)


def test_enqueue_shows_the_predicted_task_as_pending_over_the_confirmed_row() -> None:
    clock = make_clock()
    s = new_store(clock=clock)
    s.replace_board([task(1, 1)], STAFF)
    clock.advance(5)
    op = s.enqueue(Action.CLAIM, tid(1), ME)
    assert op.device == DEVICE and op.created_at == clock.now() and op.attempts == 0
    vt = s.get(tid(1))
    assert vt is not None
    assert vt.pending is True and vt.pending_action is Action.CLAIM
    assert vt.task.status is Status.CLAIMED and vt.task.claimed_by == ME
    assert vt.task.claimed_at == clock.now() and vt.task.claimed_device == DEVICE
    assert vt.task.version == 1  # the confirmed row itself is untouched
    confirmed = s.confirmed(tid(1))
    assert confirmed is not None and confirmed.status is Status.PENDING

    s.enqueue(Action.COMPLETE, tid(1), ME)
    vt = s.get(tid(1))
    assert vt is not None and vt.task.status is Status.DONE and vt.task.completed_by == ME
    assert vt.pending_action is Action.COMPLETE


def test_an_op_the_prediction_refuses_is_still_queued_and_marks_the_card() -> None:
    s = new_store()
    s.replace_board([claimed(1, 2, MARIA)], STAFF)
    op = s.enqueue(Action.CLAIM, tid(1), ME)
    assert [o.op_id for o in s.pending_ops()] == [op.op_id]
    vt = s.get(tid(1))
    assert vt is not None and vt.pending is True
    assert vt.task == claimed(1, 2, MARIA)


def test_conflict_snaps_back_to_server_truth_and_names_the_winner() -> None:
    s = new_store()
    s.replace_board([task(1, 1), task(2, 1), task(3, 1)], STAFF)
    heard: list[Notice] = []
    s.notices_subscribe(heard.append)
    ops = [s.enqueue(Action.CLAIM, tid(n), ME) for n in (1, 2, 3)]
    rec = Recorder()
    s.subscribe(rec)

    notice = s.resolve_op(ops[0].op_id, Outcome.CONFLICT, claimed(1, 2, MARIA), None)
    assert notice is not None and notice.kind is NoticeKind.CONFLICT
    # Facts, not words (the UI words them: tests/ui/test_notice_words.py).
    assert notice.winner == Winner(Status.CLAIMED, MARIA, "Maria") and notice.task_id == tid(1)
    assert (notice.action, notice.staff_id) == (Action.CLAIM, ME)
    assert heard == [notice]
    vt = s.get(tid(1))
    assert vt is not None and vt.pending is False and vt.task == claimed(1, 2, MARIA)
    assert rec.calls == [frozenset({tid(1)})]

    n2 = s.resolve_op(ops[1].op_id, Outcome.CONFLICT, done(2, 3, BEN), None)
    assert n2 is not None and n2.winner == Winner(Status.DONE, BEN, "Ben")

    n3 = s.resolve_op(ops[2].op_id, Outcome.CONFLICT, task(3, 2, Status.CANCELLED), None)
    assert n3 is not None and n3.winner == Winner(Status.CANCELLED, None, None)
    assert s.get(tid(3)) is None
    assert s.pending_ops() == []


def test_conflict_answer_older_than_a_realtime_event_still_reverts_the_card() -> None:
    s = new_store()
    s.replace_board([task(1, 1)], STAFF)
    op = s.enqueue(Action.CLAIM, tid(1), ME)
    s.apply_server_task(done(1, 3, BEN))  # realtime got here first
    notice = s.resolve_op(op.op_id, Outcome.CONFLICT, claimed(1, 2, MARIA), None)
    assert notice is not None and notice.winner == Winner(Status.DONE, BEN, "Ben")
    vt = s.get(tid(1))
    assert vt is not None and vt.pending is False and vt.task.version == 3


def test_a_conflict_is_kept_in_the_failed_list_with_who_won(tmp_path: Path) -> None:
    # A conflict the chef did not see on screen can still be looked up afterwards.
    path = tmp_path / "board.db"
    s = new_store(path)
    s.replace_board([task(1, 1, title="Roast chicken")], STAFF)
    op = s.enqueue(Action.CLAIM, tid(1), ME)
    won = claimed(1, 2, MARIA).evolve(title="Roast chicken")
    s.resolve_op(op.op_id, Outcome.CONFLICT, won, "claimed_by_other")
    s.close()

    again = new_store(path)
    [failed] = again.failed_actions()
    assert failed.op == op and failed.outcome == "conflict"
    assert failed.reason == "claimed_by_other" and failed.task_title == "Roast chicken"
    assert failed.winner == Winner(Status.CLAIMED, MARIA, "Maria") and failed.at == T0
    assert failed.message is None
    # a conflict answer without a reason word still says what happened
    op2 = again.enqueue(Action.COMPLETE, tid(1), ME)
    again.resolve_op(op2.op_id, Outcome.CONFLICT, None, None)
    assert again.failed_actions()[-1].reason == "conflict"
    again.close()


def test_duplicate_and_applied_confirm_the_op() -> None:
    s = new_store()
    s.replace_board([task(1, 1), task(2, 1)], STAFF)
    a = s.enqueue(Action.CLAIM, tid(1), ME)
    b = s.enqueue(Action.CLAIM, tid(2), ME)
    assert s.resolve_op(a.op_id, Outcome.DUPLICATE, claimed(1, 2, ME), None) is None
    assert s.resolve_op(b.op_id, Outcome.APPLIED, claimed(2, 2, ME), None) is None
    assert s.pending_ops() == []
    for n in (1, 2):
        vt = s.get(tid(n))
        assert vt is not None and vt.pending is False
        assert vt.task.version == 2 and vt.task.claimed_by == ME
    # a second answer for the same op (already resolved) changes nothing
    assert s.resolve_op(a.op_id, Outcome.DUPLICATE, claimed(1, 2, ME), None) is None


def test_rejected_goes_to_the_failed_list_which_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    s = new_store(path)
    s.replace_board([task(1, 1, title="Dice onions")], STAFF)
    heard: list[Notice] = []
    s.notices_subscribe(heard.append)
    op = s.enqueue(Action.CLAIM, tid(1), ME)
    notice = s.resolve_op(op.op_id, Outcome.REJECTED, None, "inactive_staff")
    assert notice is not None and notice.kind is NoticeKind.REJECTED
    assert (notice.action, notice.task_title, notice.reason) == (
        Action.CLAIM,
        "Dice onions",
        "inactive_staff",
    )
    assert notice.winner is None
    assert heard == [notice]
    assert s.pending_ops() == []
    vt = s.get(tid(1))
    assert vt is not None and vt.pending is False and vt.task.status is Status.PENDING
    s.close()

    again = new_store(path)
    [failed] = again.failed_actions()
    assert failed.op == op
    assert failed.outcome == "rejected" and failed.reason == "inactive_staff"
    assert failed.task_title == "Dice onions" and failed.at == T0
    assert failed.message is None and failed.winner is None
    assert again.pending_ops() == []
    again.clear_failed_actions()
    again.close()
    assert new_store(path).failed_actions() == []


def test_fifo_order_and_attempts_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    clock = make_clock()
    s = new_store(path, clock)
    s.replace_board([task(n) for n in range(1, 6)], STAFF)
    # task ids deliberately not in sorted order, and several ops on one task
    order = [(Action.CLAIM, 5), (Action.CLAIM, 2), (Action.COMPLETE, 5), (Action.CLAIM, 4)]
    ops = []
    for action, n in order:
        ops.append(s.enqueue(action, tid(n), ME))
        clock.advance(1)
    s.record_attempt(ops[0].op_id, "timeout")
    s.record_attempt(ops[0].op_id, "connection refused")
    assert s.next_op() == replace(ops[0], attempts=2, last_error="connection refused")
    s.close()

    again = new_store(path, clock)
    restored = again.pending_ops()
    assert [o.op_id for o in restored] == [o.op_id for o in ops]
    assert restored[1:] == ops[1:]
    assert restored[0].attempts == 2 and restored[0].last_error == "connection refused"
    vt = again.get(tid(5))  # the overlay is rebuilt from the persisted outbox
    assert vt is not None and vt.pending and vt.task.status is Status.DONE
    first = again.next_op()
    assert first is not None
    again.resolve_op(first.op_id, Outcome.APPLIED, claimed(5, 2, ME), None)
    second = again.next_op()
    assert second is not None and second.op_id == ops[1].op_id


def test_op_is_committed_before_enqueue_returns_or_anyone_hears_of_it(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    s = new_store(path)
    s.replace_board([task(1)], STAFF)
    seen_by_listener: list[list[str]] = []

    def outside_ops() -> list[str]:
        other = sqlite3.connect(path)
        try:
            return [r[0] for r in other.execute("SELECT op_id FROM ops ORDER BY seq")]
        finally:
            other.close()

    s.subscribe(lambda ids: seen_by_listener.append(outside_ops()))
    op = s.enqueue(Action.CLAIM, tid(1), ME)
    assert seen_by_listener == [[op.op_id]]
    assert outside_ops() == [op.op_id]
    # and a second store opened on the file (a restart after a crash) has it
    second = new_store(path)
    assert [o.op_id for o in second.pending_ops()] == [op.op_id]
    second.close()
    s.close()


def test_ops_on_unknown_tasks_wait_in_the_outbox_without_showing() -> None:
    s = new_store()
    op = s.enqueue(Action.CLAIM, tid(9), ME)
    assert s.get(tid(9)) is None and s.pending_ops() == [op]
    s.apply_server_task(task(9, 1))
    vt = s.get(tid(9))
    assert vt is not None and vt.pending and vt.task.claimed_by == ME
