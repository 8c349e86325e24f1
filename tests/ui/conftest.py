from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import pytest

from caterking_display.domain.clock import FixedClock
from caterking_display.domain.sync_status import ConnectionState, SyncStatus
from caterking_display.domain.task import Task
from caterking_display.ui.app import BoardApp
from caterking_display.ui.settings import UISettings
from tests.ui.data import STAFF, T0
from tests.ui.fakes import FakeStore

SETTINGS = UISettings(kitchen_name="Harbour Kitchen", timezone="UTC", device_name="wall-1")
LIVE = SyncStatus(
    ConnectionState.LIVE, since=T0, last_sync_at=T0, last_message_at=T0, devices_online=3
)


@pytest.fixture(autouse=True)
def _pinned_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Either silently changes every snapshot.
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)


def build(
    tasks: Iterable[Task],
    *,
    status: SyncStatus = LIVE,
    on_enqueued: Callable[[], None] | None = None,
    **settings: Any,
) -> tuple[BoardApp, FakeStore, FixedClock]:
    clock = FixedClock(T0)
    store = FakeStore(tasks, STAFF, clock)
    app = BoardApp(
        store, clock, replace(SETTINGS, **settings), status=status, on_action_enqueued=on_enqueued
    )
    return app, store, clock
