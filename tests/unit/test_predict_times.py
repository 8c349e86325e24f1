"""The board stamps an action's time as the server will, so the card does not move when
the server confirms it."""

from __future__ import annotations

from datetime import timedelta

from caterking_display.domain.actions import Action, acted_time, predict
from caterking_display.domain.task import Status
from tests.store.factory import DEVICE, ME, STAFF, T0, claimed, make_clock, new_store, task, tid

MIN = timedelta(minutes=1)


def test_the_press_time_when_nothing_bounds_it() -> None:
    t = task(1)  # created at T0
    assert acted_time(t, T0 + 5 * MIN) == T0 + 5 * MIN
    done = predict(t, Action.COMPLETE, ME, DEVICE, T0 + 5 * MIN)
    assert done is not None
    assert done.claimed_at == done.completed_at == T0 + 5 * MIN


def test_never_before_the_task_existed() -> None:
    got = predict(task(1), Action.CLAIM, ME, DEVICE, T0 - 3 * MIN)
    assert got is not None and got.claimed_at == T0


def test_a_completion_never_before_its_claim() -> None:
    t = claimed(1, 2, ME).evolve(claimed_at=T0 + 10 * MIN)
    got = predict(t, Action.COMPLETE, ME, DEVICE, T0 + 4 * MIN)
    assert got is not None
    assert got.claimed_at == got.completed_at == T0 + 10 * MIN


def test_queued_actions_keep_their_own_press_times() -> None:
    clock = make_clock()
    store = new_store(clock=clock)
    store.replace_board([task(1)], STAFF)
    clock.advance(60)
    store.enqueue(Action.CLAIM, tid(1), ME)
    clock.advance(120)
    store.enqueue(Action.COMPLETE, tid(1), ME)
    clock.advance(600)  # still offline ten minutes later: the times do not move
    shown = store.view().tasks[tid(1)].task
    assert shown.status is Status.DONE
    assert shown.claimed_at == T0 + timedelta(seconds=60)
    assert shown.completed_at == T0 + timedelta(seconds=180)
