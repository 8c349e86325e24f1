"""UI test fixtures: a real in-memory BoardStore, a fixed clock and a stand-in for the server."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import pytest
from textual.pilot import Pilot

from caterking_display.domain.actions import Action, Outcome, predict
from caterking_display.domain.clock import FixedClock
from caterking_display.domain.estimates import Estimate
from caterking_display.domain.sync_status import ConnectionState, SyncStatus
from caterking_display.domain.task import Task
from caterking_display.store import BoardStore
from caterking_display.ui.app import BoardApp
from caterking_display.ui.settings import UISettings
from caterking_display.ui.widgets.task_card import TaskCard
from tests.ui.data import STAFF, T0
from tests.waiting import until

SETTINGS = UISettings(kitchen_name="Harbour Kitchen", timezone="UTC")
LIVE = SyncStatus(
    ConnectionState.LIVE, since=T0, last_sync_at=T0, last_message_at=T0, devices_online=3
)


@pytest.fixture(autouse=True)
def _pinned_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Either silently changes every snapshot.
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)


class Server:
    """Plays the server's side of the outbox for a test: answers the oldest pending op."""

    def __init__(self, store: BoardStore) -> None:
        self.store = store

    def confirm(self) -> None:
        op = self.store.pending_ops()[0]
        base = self.store.confirmed(op.task_id)
        assert base is not None
        done = predict(base, op.action, op.staff_id, op.device, op.created_at)
        assert done is not None
        self.store.resolve_op(
            op.op_id, Outcome.APPLIED, done.evolve(version=base.version + 1), None
        )

    def conflict(self, winner: Task) -> None:
        op = self.store.pending_ops()[0]
        self.store.resolve_op(op.op_id, Outcome.CONFLICT, winner, None)

    def reject(self, reason: str) -> None:
        op = self.store.pending_ops()[0]
        self.store.resolve_op(op.op_id, Outcome.REJECTED, None, reason)


def build(
    tasks: Iterable[Task],
    *,
    status: SyncStatus = LIVE,
    on_enqueued: Callable[[], None] | None = None,
    synced: bool = True,
    estimates: Iterable[Estimate] = (),
    **settings: Any,
) -> tuple[BoardApp, BoardStore, FixedClock]:
    """An app on a fresh in-memory store; `synced=False` leaves it as never synced."""
    clock = FixedClock(T0)
    store = BoardStore(None, clock, "wall-1")
    if synced:
        store.replace_board(list(tasks), STAFF, list(estimates))
    app = BoardApp(
        store, clock, replace(SETTINGS, **settings), status=status, on_action_enqueued=on_enqueued
    )
    return app, store, clock


async def wait_for(pilot: Pilot[Any], condition: Callable[[], object], within: float = 5) -> None:
    """Let the app run until `condition()` is true; fail after `within` seconds."""
    await until(condition, within, pilot=pilot)


def ops(store: BoardStore) -> list[tuple[Action, str, str]]:
    """The outbox as (action, task, chef), oldest first."""
    return [(op.action, op.task_id, op.staff_id) for op in store.pending_ops()]


def screen_text(app: BoardApp) -> str:
    """The screen's text, from the SVG export (entities decoded, no-break spaces plain)."""
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


def widget(app: BoardApp, task_id: str) -> TaskCard:
    """The card showing a task; fails if the task is not on a visible page."""
    card = app.card_widget(task_id)
    assert card is not None, "task is not on a visible page"
    return card
