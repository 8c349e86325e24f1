"""Outbox outcome handling against a scripted fake backend (pure logic)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from caterking_display.backend.types import AuthExpired, RpcResult, ServerRefused, TransportError
from caterking_display.domain.actions import Action, Outcome
from caterking_display.domain.board import NoticeKind
from caterking_display.domain.sync_status import Feed
from caterking_display.domain.task import Status
from caterking_display.store import BoardStore
from caterking_display.sync.outbox import Outbox
from caterking_display.sync.settings import SyncSettings
from tests.store.factory import (
    BEN,
    MARIA,
    ME,
    STAFF,
    T0,
    claimed,
    make_clock,
    new_store,
    task,
    tid,
)
from tests.sync.fakes import FakeBackend, transport


def settings(**kw: object) -> SyncSettings:
    base: dict[str, object] = dict(
        email="d@x",
        password="p",
        backoff_base=0.001,
        backoff_cap=0.01,
        rng=random.Random(3),
        feed=Feed.POSTGRES_CHANGES,
    )
    base.update(kw)
    return SyncSettings(**base)  # type: ignore[arg-type]


def setup(
    n_tasks: int = 3, *, step_s: float = 0.0
) -> tuple[BoardStore, FakeBackend, Outbox, list[str]]:
    """`step_s`: how far the outbox's monotonic clock moves each time it is read."""
    ticks = iter(range(1_000_000))
    store = new_store()
    store.replace_board([task(i) for i in range(1, n_tasks + 1)], STAFF)
    backend = FakeBackend()
    renewed: list[str] = []

    async def renew(stale: str | None) -> None:
        renewed.append("x")

    outbox = Outbox(
        store,
        backend,
        settings(),
        renew_token=renew,
        monotonic=lambda: next(ticks) * step_s,
    )
    return store, backend, outbox, renewed


async def test_applied_and_duplicate_confirm_with_the_returned_row() -> None:
    store, backend, outbox, _ = setup()
    op1 = store.enqueue(Action.CLAIM, tid(1), ME)
    op2 = store.enqueue(Action.CLAIM, tid(2), ME)
    backend.results = [
        RpcResult(Outcome.APPLIED, claimed(1, 2, ME).to_row(), None),
        RpcResult(Outcome.DUPLICATE, claimed(2, 5, ME).to_row(), None),
    ]
    await outbox.drain()
    assert [c.op_id for c in backend.calls] == [op1.op_id, op2.op_id]  # FIFO
    assert store.pending_ops() == []
    v = store.view()
    assert v.tasks[tid(1)].task.version == 2 and not v.tasks[tid(1)].pending
    assert v.tasks[tid(2)].task.claimed_by == ME and v.tasks[tid(2)].task.version == 5


async def test_conflict_reverts_the_view_and_names_the_holder() -> None:
    store, backend, outbox, _ = setup()
    notices = []
    store.notices_subscribe(notices.append)
    store.enqueue(Action.CLAIM, tid(1), ME)
    assert store.view().tasks[tid(1)].task.status is Status.CLAIMED  # optimistic
    backend.results = [RpcResult(Outcome.CONFLICT, claimed(1, 2, MARIA).to_row(), "claimed")]
    await outbox.drain()
    vt = store.view().tasks[tid(1)]
    assert vt.task.claimed_by == MARIA and not vt.pending
    assert len(notices) == 1 and notices[0].kind is NoticeKind.CONFLICT
    assert notices[0].winner is not None and notices[0].winner.staff_id == MARIA


async def test_rejected_goes_to_the_failed_list_and_the_queue_moves_on() -> None:
    store, backend, outbox, _ = setup()
    store.enqueue(Action.COMPLETE, tid(1), BEN)
    store.enqueue(Action.CLAIM, tid(2), ME)
    backend.results = [RpcResult(Outcome.REJECTED, None, "inactive_staff")]
    await outbox.drain()
    failed = store.failed_actions()
    assert len(failed) == 1 and failed[0].reason == "inactive_staff"
    assert store.pending_ops() == [] and len(backend.calls) == 2


async def test_transport_failures_retry_with_the_same_op_id() -> None:
    store, backend, outbox, _ = setup()
    op = store.enqueue(Action.CLAIM, tid(1), ME)
    backend.results = [transport("timed out"), transport("refused"), transport("reset")]
    await outbox.drain()
    assert [c.op_id for c in backend.calls] == [op.op_id] * 4
    assert store.pending_ops() == []


async def test_a_permanently_refused_request_is_rejected_not_retried_forever() -> None:
    store, backend, outbox, _ = setup()
    store.enqueue(Action.CLAIM, tid(1), ME)
    store.enqueue(Action.CLAIM, tid(2), ME)
    backend.results = [ServerRefused("bad uuid", 400, "22P02")]
    await outbox.drain()
    assert [f.reason for f in store.failed_actions()] == ["22P02"]
    assert store.pending_ops() == []


async def test_a_poison_op_that_keeps_failing_on_the_server_is_set_aside() -> None:
    # Five database errors spread over more than poison_after_seconds (600 s).
    store, backend, outbox, _ = setup(step_s=200.0)
    store.enqueue(Action.CLAIM, tid(1), ME)
    store.enqueue(Action.CLAIM, tid(2), ME)
    backend.results = [transport("500", answered=True)] * 5
    await outbox.drain()
    assert [f.reason for f in store.failed_actions()] == ["server_error"]
    assert store.pending_ops() == [] and len(backend.calls) == 6


async def test_an_expired_token_is_renewed_and_the_op_resent() -> None:
    store, backend, outbox, renewed = setup()
    op = store.enqueue(Action.CLAIM, tid(1), ME)
    backend.results = [AuthExpired("JWT expired")]
    await outbox.drain()
    assert renewed == ["x"]
    assert [c.op_id for c in backend.calls] == [op.op_id, op.op_id]
    assert store.pending_ops() == []


async def test_a_malformed_row_in_the_reply_still_resolves_the_op() -> None:
    store, backend, outbox, _ = setup()
    store.enqueue(Action.CLAIM, tid(1), ME)
    backend.results = [RpcResult(Outcome.APPLIED, {"id": "nope"}, None)]
    await outbox.drain()
    assert store.pending_ops() == []


async def test_database_errors_in_a_short_burst_do_not_discard_the_action() -> None:
    store, backend, outbox, _ = setup(step_s=1.0)
    op = store.enqueue(Action.CLAIM, tid(1), ME)
    backend.results = [transport("500", answered=True)] * 8
    await outbox.drain()
    assert store.failed_actions() == []
    assert [c.op_id for c in backend.calls] == [op.op_id] * 9  # retried, then applied
    assert store.pending_ops() == []


async def test_gateway_errors_never_discard_an_action() -> None:
    # A Postgres restart or a rate limit is an outage, however long: keep the op.
    store, backend, outbox, _ = setup(step_s=500.0)
    store.enqueue(Action.CLAIM, tid(1), ME)
    backend.results = [transport("HTTP 503", answered=False)] * 12
    await outbox.drain()
    assert store.failed_actions() == []
    assert len(backend.calls) == 13


async def test_a_lost_conflict_reply_is_still_told_to_the_chef() -> None:
    # The first reply (conflict) was lost; the retry with the same op id says duplicate
    # with reason already_conflict. The chef must still hear who holds the task.
    store, backend, outbox, _ = setup()
    notices = []
    store.notices_subscribe(notices.append)
    store.enqueue(Action.CLAIM, tid(1), ME)
    backend.results = [
        RpcResult(Outcome.DUPLICATE, claimed(1, 2, MARIA).to_row(), "already_conflict")
    ]
    await outbox.drain()
    assert [n.kind for n in notices] == [NoticeKind.CONFLICT]
    assert notices[0].winner is not None and notices[0].winner.staff_id == MARIA
    assert store.view().tasks[tid(1)].task.claimed_by == MARIA
    assert [(f.outcome, f.winner) for f in store.failed_actions()] == [
        ("conflict", notices[0].winner)
    ]


async def test_repeated_401_backs_off_instead_of_spinning() -> None:
    store, backend, outbox, renewed = setup()
    waits: list[int] = []
    real_wait = outbox._wait

    async def counting_wait(failures: int) -> None:
        waits.append(failures)
        await real_wait(failures)

    outbox._wait = counting_wait  # type: ignore[method-assign]
    store.enqueue(Action.CLAIM, tid(1), ME)
    backend.results = [AuthExpired("jwt expired")] * 6
    await outbox.drain()
    assert len(renewed) == 6 and len(backend.calls) == 7
    # The first refusal retries at once with the fresh token; later ones back off.
    assert waits == [2, 3, 4, 5, 6]
    assert store.pending_ops() == []


async def test_an_op_withdrawn_by_an_undo_before_sending_is_never_sent() -> None:
    store, backend, outbox, _ = setup()
    op1 = store.enqueue(Action.CLAIM, tid(1), ME)
    op2 = store.enqueue(Action.CLAIM, tid(2), ME)
    assert store.withdraw([op1.op_id])
    backend.results = [RpcResult(Outcome.APPLIED, claimed(2, 2, ME).to_row(), None)]
    await outbox.drain()
    assert [c.op_id for c in backend.calls] == [op2.op_id]
    assert store.view().tasks[tid(1)].task.status is Status.PENDING


async def test_an_op_handed_to_the_server_can_no_longer_be_withdrawn() -> None:
    store, backend, outbox, _ = setup()
    op = store.enqueue(Action.CLAIM, tid(1), ME)
    seen: list[bool] = []
    call = backend.call_action

    async def spy(*args: Any, **kwargs: Any) -> RpcResult:
        seen.append(store.can_withdraw(op.op_id))
        return await call(*args, **kwargs)

    backend.call_action = spy  # type: ignore[method-assign]
    backend.results = [RpcResult(Outcome.APPLIED, claimed(1, 2, ME).to_row(), None)]
    await outbox.drain()
    assert seen == [False]


@pytest.mark.parametrize(("sent", "attempts"), [(False, 0), (True, 1)])
async def test_only_a_send_that_may_have_reached_the_server_blocks_withdrawal(
    sent: bool, attempts: int
) -> None:
    # Connection refused: the server never saw it, an undo may still withdraw it. A
    # timeout: the reply may be lost, so an undo must send the opposite action instead.
    store, backend, outbox, _ = setup()
    store.enqueue(Action.CLAIM, tid(1), ME)
    backend.results = [
        TransportError("no route", sent=sent),
        RpcResult(Outcome.APPLIED, claimed(1, 2, ME).to_row(), None),
    ]
    between: list[int] = []
    call = backend.call_action

    async def spy(*args: Any, **kwargs: Any) -> RpcResult:
        if backend.calls:  # the retry: look at the op as the first try left it
            between.append(store.pending_ops()[0].attempts)
        return await call(*args, **kwargs)

    backend.call_action = spy  # type: ignore[method-assign]
    await outbox.drain()
    assert between == [attempts]
    assert store.pending_ops() == [] and len(backend.calls) == 2


async def test_each_action_carries_the_time_the_chef_pressed_even_when_sent_later() -> None:
    clock = make_clock()
    store = new_store(clock=clock)
    store.replace_board([task(1), task(2)], STAFF)
    backend = FakeBackend()

    async def renew(stale: str | None) -> None:
        pass

    outbox = Outbox(store, backend, settings(), renew_token=renew)
    op1 = store.enqueue(Action.CLAIM, tid(1), ME)
    clock.advance(90)
    op2 = store.enqueue(Action.COMPLETE, tid(2), ME)
    clock.advance(180)  # the link comes back three minutes later
    backend.results = [transport()]  # and the first try is lost: retried, same time
    await outbox.drain()
    assert [(c.op_id, c.acted_at) for c in backend.calls] == [
        (op1.op_id, T0),
        (op1.op_id, T0),
        (op2.op_id, T0 + timedelta(seconds=90)),
    ]
