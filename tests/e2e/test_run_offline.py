"""`run` with the server unreachable still opens the saved board, with the truth shown."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from caterking_display.app_main import build
from caterking_display.cli import main
from caterking_display.config import Config
from caterking_display.domain.actions import Action
from caterking_display.domain.clock import SystemClock
from caterking_display.domain.sync_status import ConnectionState
from caterking_display.domain.task import Priority, Staff, Status, Task
from caterking_display.store import BoardStore
from caterking_display.ui.widgets.connection_banner import ConnectionBanner
from caterking_server.embedded_pg import free_port
from tests.e2e.boards import until


def saved_board(path: Path) -> tuple[str, str]:
    tenant, kitchen, staff_id, task_id = (str(uuid.uuid4()) for _ in range(4))
    now = datetime.now(UTC)
    store = BoardStore.open(path, SystemClock(), "pass")
    store.replace_board(
        [
            Task(
                id=task_id,
                tenant_id=tenant,
                kitchen_id=kitchen,
                title="Reduce veal jus",
                station="Sauce",
                status=Status.PENDING,
                priority=Priority.NORMAL,
                version=3,
                created_at=now,
                updated_at=now,
            )
        ],
        [Staff(staff_id, tenant, kitchen, "Maria Santos", "MS", True)],
    )
    store.close()
    return task_id, staff_id


async def test_unreachable_server_shows_saved_board_and_queues(tmp_path: Path) -> None:
    data = tmp_path / "board"
    data.mkdir()
    task_id, staff_id = saved_board(data / "board.sqlite3")
    cfg = Config(
        url=f"http://127.0.0.1:{free_port()}",
        anon_key="anon",
        email="d@x.y",
        password="pw",
        kitchen_id=None,
        data_dir=data,
        device_name="pass",
        skip_picker=True,
        default_staff_id=staff_id,
    )
    store, engine, app = build(
        cfg,
        SystemClock(),
        sync_overrides={
            "backoff_base": 0.05,
            "backoff_cap": 0.1,
            "offline_after_attempts": 2,
            "offline_after_seconds": 1.0,
        },
    )
    engine.on_status(app.set_status)

    runner = asyncio.create_task(engine.run())
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: app.card_widget(task_id) is not None)
            await until(pilot, lambda: app.status.state is ConnectionState.OFFLINE)
            # A chef still works: the claim shows at once and waits in the outbox.
            app.select(task_id)
            await pilot.press("c")
            await until(pilot, lambda: store.get(task_id).pending)
            assert [op.action for op in store.pending_ops()] == [Action.CLAIM]
            await until(
                pilot,
                lambda: "1 change waiting to sync" in str(app.query_one(ConnectionBanner).render()),
            )
            text = str(app.query_one(ConnectionBanner).render())
            assert "Offline" in text and "board from saved copy" in text
    finally:
        await engine.stop()
        await asyncio.gather(runner, return_exceptions=True)
        store.close()
    # The queued claim survives a restart of the display.
    again = BoardStore.open(data / "board.sqlite3", SystemClock(), "pass")
    assert [op.task_id for op in again.pending_ops()] == [task_id]
    again.close()


def test_run_with_missing_setting_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in (
        "SUPABASE_URL",
        "SUPABASE_ANON_KEY",
        "CATERKING_DEVICE_EMAIL",
        "CATERKING_DEVICE_PASSWORD",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["run", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == ("error: server.url: missing — set [server] url in config.toml or SUPABASE_URL\n")
