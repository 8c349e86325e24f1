"""Two board apps, headless, against the real local stack over real sockets:
a claim on one shows on the other (issue "The board", item 10)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from caterking_display.app_main import build
from caterking_display.config import Config
from caterking_display.domain.clock import SystemClock
from caterking_display.domain.sync_status import ConnectionState
from caterking_display.domain.task import Status
from caterking_display.localstack.stack import LocalStack
from caterking_display.ui.widgets.task_card import TaskCard
from tests.pg import Kitchen, add_task, connect
from tests.stack import create_display


def config(stack: LocalStack, email: str, password: str, data_dir: Path, name: str) -> Config:
    return Config(
        url=stack.url,
        anon_key=stack.anon_key,
        email=email,
        password=password,
        kitchen_id=None,
        data_dir=data_dir,
        device_name=name,
    )


async def until(pilot: Any, cond: Callable[[], object], within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.02)


def header_text(app: Any) -> str:
    from caterking_display.ui.widgets.status_line import StatusLine

    return str(app.query_one(StatusLine).render())


def card_in(app: Any, column: str, task_id: str) -> TaskCard | None:
    for card in app.query(f"#col-{column} TaskCard"):
        if getattr(card, "task_id", None) == task_id and card.display:
            return card  # type: ignore[no-any-return]
    return None


async def test_claim_on_one_board_shows_on_the_other(
    stack: LocalStack, kitchen: Kitchen, tmp_path: Path
) -> None:
    with connect(stack.db_dsn) as conn:
        tid = add_task(conn, kitchen, title="Dice onions", station="Prep")
    boards = []
    for name in ("pass", "grill"):
        dev = create_display(stack.url, stack.service_role_key, kitchen)
        cfg = config(stack, dev.email, dev.password, tmp_path / name, name)
        boards.append(build(cfg, SystemClock()))
    (store_a, _, app_a), (store_b, _, app_b) = boards
    for _, engine, app in boards:
        engine.on_status(app.set_status)
    tasks = [asyncio.create_task(engine.run()) for _, engine, _ in boards]
    try:
        async with app_a.run_test(size=(160, 45)) as pa, app_b.run_test(size=(160, 45)) as pb:
            for pilot, app in ((pa, app_a), (pb, app_b)):
                await until(pilot, lambda app=app: app.status.state is ConnectionState.LIVE)
                await until(pilot, lambda app=app: card_in(app, "todo", tid) is not None)
                # The header names the kitchen as soon as the board has been fetched.
                await until(pilot, lambda app=app: "Main" in str(header_text(app)))
            # Chef 0 claims on board A (picker: key 1 is the first chef by name).
            app_a.selected_id = tid
            await pa.press("c")
            await until(pa, lambda: app_a.screen.__class__.__name__ != "Screen")
            await pa.press("1")
            await until(pa, lambda: card_in(app_a, "doing", tid) is not None)
            started = time.monotonic()
            # Board B shows it in progress, confirmed, with the chef's name.
            await until(pb, lambda: card_in(app_b, "doing", tid) is not None, within=5)
            latency = time.monotonic() - started
            vt = store_b.get(tid)
            assert vt is not None and vt.task.status is Status.CLAIMED and not vt.pending
            card = card_in(app_b, "doing", tid)
            assert card is not None and "Chef 0" in str(card.render())
            assert latency < 2.0
            # Board A's op was confirmed by the server (no pending mark left).
            await until(pa, lambda: not store_a.pending_ops())
    finally:
        for _, engine, _ in boards:
            await engine.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        for store, _, _ in boards:
            store.close()
    with connect(stack.db_dsn) as conn:
        row = conn.execute("select status, version from tasks where id = %s", (tid,)).fetchone()
    assert row is not None and row["status"] == "claimed" and row["version"] == 2
