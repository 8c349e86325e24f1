"""Resync merge with events buffered during the fetch (pure logic)."""

from __future__ import annotations

import asyncio

from caterking_display.backend.types import ChangeEvent
from caterking_display.domain.task import Status
from caterking_display.sync.resync import Resync, apply_event
from tests.store.factory import MARIA, STAFF, claimed, new_store, task, tid
from tests.sync.fakes import FakeBackend


def ev(
    typ: str, record: dict[str, object] | None, old: dict[str, object] | None = None
) -> ChangeEvent:
    return ChangeEvent("tasks", typ, record, old, "2025-01-01T00:00:00Z")


async def test_events_during_the_fetch_are_applied_after_it_and_never_lost() -> None:
    store = new_store()
    store.replace_board([task(1), task(2), task(9)], STAFF)  # 9 was deleted while away
    backend = FakeBackend(tasks={tid(1): task(1, 3), tid(2): task(2)}, staff=STAFF)
    gate = asyncio.Event()
    backend.fetch_gate = gate
    r = Resync(store, backend)
    fetch = asyncio.create_task(r.fetch("k", 5))
    await asyncio.sleep(0)
    assert r.buffering
    # While the fetch is in flight: a new task, an update newer than the fetch, a delete.
    r.on_change(ev("INSERT", task(3).to_row()))
    r.on_change(ev("UPDATE", claimed(1, 4, MARIA).to_row()))
    r.on_change(ev("DELETE", None, {"id": tid(2)}))
    assert tid(3) not in store.view().tasks  # buffered, not applied yet
    gate.set()
    await fetch
    v = store.view().tasks
    assert set(v) == {tid(1), tid(3)}
    assert v[tid(1)].task.version == 4 and v[tid(1)].task.status is Status.CLAIMED
    assert not r.buffering


async def test_an_older_fetch_never_overwrites_a_newer_event() -> None:
    store = new_store()
    store.replace_board([task(1, 5)], STAFF)
    backend = FakeBackend(tasks={tid(1): task(1, 4)}, staff=STAFF)
    await Resync(store, backend).fetch("k", 5)
    assert store.view().tasks[tid(1)].task.version == 5


async def test_buffered_events_are_applied_even_if_the_fetch_fails() -> None:
    store = new_store()
    backend = FakeBackend()

    def boom() -> None:
        raise RuntimeError("network")

    backend.on_fetch = boom
    r = Resync(store, backend)
    r.begin()
    r.on_change(ev("INSERT", task(7).to_row()))
    try:
        await r.fetch("k", 5)
    except RuntimeError:
        pass
    assert tid(7) in store.view().tasks and not r.buffering


def test_malformed_and_unexpected_events_are_logged_and_ignored(caplog: object) -> None:
    store = new_store()
    store.replace_board([task(1)], STAFF)
    before = store.view()
    assert not apply_event(store, ev("UPDATE", {"id": tid(1), "version": "x"}))
    assert not apply_event(store, ev("UPDATE", None))
    assert not apply_event(store, ev("DELETE", None, {}))
    assert not apply_event(store, ChangeEvent("prep_estimates", "INSERT", {}, None, None))
    assert not apply_event(store, ev("TRUNCATE", {}))
    assert store.view() == before
    # A good event still applies afterwards.
    assert apply_event(store, ev("UPDATE", task(1, 2).to_row()))
    staff_row = STAFF[0].to_row() | {"display_name": "Maria R"}
    assert apply_event(store, ChangeEvent("staff", "UPDATE", staff_row, None, None))
    assert store.view().staff[MARIA].display_name == "Maria R"
