"""Undo's first path: an action not yet handed to the server is withdrawn and never sent."""

from __future__ import annotations

from pathlib import Path

from caterking_display.domain.actions import Action, Outcome
from caterking_display.domain.task import Status
from tests.store.factory import ME, STAFF, Recorder, claimed, new_store, task, tid


def test_an_unsent_op_is_withdrawn_and_the_card_snaps_back(tmp_path: Path) -> None:
    path = tmp_path / "board.sqlite3"
    store = new_store(path)
    store.replace_board([task(1)], STAFF)
    rec = Recorder()
    store.subscribe(rec)
    op = store.enqueue(Action.CLAIM, tid(1), ME)
    assert store.get(tid(1)).task.status is Status.CLAIMED  # type: ignore[union-attr]
    assert store.can_withdraw(op.op_id)
    assert store.withdraw([op.op_id])
    assert store.pending_ops() == []
    vt = store.get(tid(1))
    assert vt is not None and vt.task.status is Status.PENDING and not vt.pending
    assert rec.calls[-1] == frozenset({tid(1)})
    store.close()
    again = new_store(path)  # the withdrawal was on disk
    assert again.pending_ops() == []
    again.close()


def test_an_op_being_sent_or_already_tried_cannot_be_withdrawn() -> None:
    store = new_store()
    store.replace_board([task(1), task(2)], STAFF)
    sending = store.enqueue(Action.CLAIM, tid(1), ME)
    tried = store.enqueue(Action.CLAIM, tid(2), ME)
    assert store.mark_sending(sending.op_id)
    store.mark_sending(tried.op_id)
    store.record_attempt(tried.op_id, "timed out")  # may have reached the server
    assert not store.can_withdraw(sending.op_id)
    assert not store.can_withdraw(tried.op_id)
    assert not store.withdraw([sending.op_id])
    assert not store.withdraw([tried.op_id])
    assert len(store.pending_ops()) == 2


def test_withdraw_is_all_or_nothing() -> None:
    store = new_store()
    store.replace_board([task(1), task(2)], STAFF)
    a = store.enqueue(Action.CLAIM, tid(1), ME)
    b = store.enqueue(Action.CLAIM, tid(2), ME)
    store.mark_sending(b.op_id)
    assert not store.withdraw([a.op_id, b.op_id])
    assert [op.op_id for op in store.pending_ops()] == [a.op_id, b.op_id]


def test_an_answered_op_cannot_be_withdrawn_and_is_not_sent_after_withdrawal() -> None:
    store = new_store()
    store.replace_board([task(1), task(2)], STAFF)
    a = store.enqueue(Action.CLAIM, tid(1), ME)
    store.resolve_op(a.op_id, Outcome.APPLIED, claimed(1, 2, ME), None)
    assert not store.withdraw([a.op_id])
    b = store.enqueue(Action.CLAIM, tid(2), ME)
    assert store.withdraw([b.op_id])
    assert not store.mark_sending(b.op_id)  # the outbox must skip it


def test_a_server_change_moves_the_saved_at_time() -> None:
    # The Offline banner's "saved at" is the last server change applied, not the last reload.
    store = new_store()
    clock = store._clock
    store.replace_board([task(1), task(2)], STAFF)
    first = store.saved_at
    clock.advance(600)  # type: ignore[attr-defined]
    store.apply_server_task(claimed(1, 2, ME))
    assert store.saved_at is not None and first is not None
    assert (store.saved_at - first).total_seconds() == 600
    clock.advance(60)  # type: ignore[attr-defined]
    store.apply_server_delete(tid(2))
    assert (store.saved_at - first).total_seconds() == 660
