"""Listeners hear exactly what changed, and can never break the store."""

from __future__ import annotations

import logging

import pytest

from caterking_display.domain.actions import Action, Outcome
from caterking_display.domain.board import Notice
from caterking_display.store import STAFF_CHANGED

from .factory import MARIA, ME, STAFF, Recorder, claimed, new_store, staff, task, tid


def test_a_failing_listener_is_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = new_store()
    s.replace_board([task(1)], STAFF)

    def boom(ids: frozenset[str]) -> None:
        raise RuntimeError("listener bug")

    def boom_notice(n: Notice) -> None:
        raise RuntimeError("notice listener bug")

    s.subscribe(boom)
    rec = Recorder()
    s.subscribe(rec)
    s.notices_subscribe(boom_notice)
    heard: list[Notice] = []
    s.notices_subscribe(heard.append)
    with caplog.at_level(logging.ERROR, logger="caterking_display.store"):
        op = s.enqueue(Action.CLAIM, tid(1), ME)
        notice = s.resolve_op(op.op_id, Outcome.CONFLICT, claimed(1, 2, MARIA), None)
    assert rec.calls == [frozenset({tid(1)}), frozenset({tid(1)})]
    assert heard == [notice]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("listener" in m and "failed" in m for m in messages) == 3


def test_changed_ids_are_exact() -> None:
    s = new_store()
    s.replace_board([task(n) for n in range(1, 4)], STAFF)
    rec = Recorder()
    unsubscribe = s.subscribe(rec)

    s.apply_server_task(task(2, 2, title="renamed"))
    s.apply_server_task(task(2, 2, title="renamed"))  # same version: nothing
    s.enqueue(Action.CLAIM, tid(3), ME)
    s.enqueue(Action.CLAIM, tid(3), ME)  # same view (still pending, same prediction)
    s.apply_server_staff(staff(MARIA, "Maria R."))
    s.apply_server_staff(staff(MARIA, "Maria R."))  # unchanged
    s.apply_server_delete(tid(1))
    s.record_attempt(s.pending_ops()[0].op_id, "timeout")  # the view does not change
    assert rec.calls == [
        frozenset({tid(2)}),
        frozenset({tid(3)}),
        frozenset({STAFF_CHANGED}),
        frozenset({tid(1)}),
    ]
    assert s.view().staff_name(MARIA) == "Maria R."

    unsubscribe()
    unsubscribe()  # harmless twice
    s.apply_server_task(task(2, 3))
    assert len(rec.calls) == 4


def test_listener_may_read_the_store_while_being_told() -> None:
    s = new_store()
    s.replace_board([task(1)], STAFF)
    seen: list[object] = []
    s.subscribe(lambda ids: seen.extend(s.get(i) for i in sorted(ids)))
    s.enqueue(Action.CLAIM, tid(1), ME)
    [vt] = seen
    assert vt is s.get(tid(1)) and vt is not None
