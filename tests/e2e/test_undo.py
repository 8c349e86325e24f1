"""Undo on the real local stack: online it is the opposite action, sent with its own op
id; offline (not yet sent) it is withdrawn and the server never hears of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from caterking_display.domain.task import Status
from caterking_display.ui.screens.staff_picker import StaffPicker
from caterking_server.stack import LocalStack
from tests.e2e.boards import live_board, until
from tests.faultproxy import FaultProxy
from tests.pg import Kitchen, add_task, connect

FAST = {
    "heartbeat_interval": 1.0,
    "backoff_base": 0.1,
    "backoff_cap": 0.5,
    "rpc_timeout": 2.0,
    "fetch_timeout": 3.0,
}


@pytest.fixture
async def proxy(stack: LocalStack) -> AsyncIterator[FaultProxy]:
    host, port = stack.url.removeprefix("http://").rsplit(":", 1)
    p = await FaultProxy(host, int(port)).start()
    try:
        yield p
    finally:
        await p.stop()


def ledger(stack: LocalStack, task_id: str) -> list[dict[str, Any]]:
    with connect(stack.db_dsn) as conn:
        return list(
            conn.execute(
                "select op_id, action, outcome from task_ops where task_id = %s order by"
                " created_at",
                (task_id,),
            )
        )


def status_of(stack: LocalStack, task_id: str) -> str:
    with connect(stack.db_dsn) as conn:
        row = conn.execute("select status from tasks where id = %s", (task_id,)).fetchone()
    assert row is not None
    return str(row["status"])


async def claim_selected(app: Any, pilot: Any, task_id: str) -> None:
    await until(pilot, lambda: task_id in app._cards)
    app.select(task_id)
    await pilot.press("c")
    await until(pilot, lambda: isinstance(app.screen, StaffPicker))
    await pilot.press("1")
    await until(pilot, lambda: not isinstance(app.screen, StaffPicker))


async def test_undo_online_sends_the_opposite_action(
    stack: LocalStack, kitchen: Kitchen, tmp_path: Path
) -> None:
    with connect(stack.db_dsn) as conn:
        tid = add_task(conn, kitchen, title="Dice onions", station="Prep")
    async with live_board(stack, kitchen, tmp_path / "a", "pass") as (store, app, pilot):
        await claim_selected(app, pilot, tid)
        await until(pilot, lambda: not store.pending_ops())  # the server applied it
        assert status_of(stack, tid) == "claimed"
        await pilot.press("z")
        await until(pilot, lambda: not store.pending_ops() and status_of(stack, tid) == "pending")
        vt = store.get(tid)
        assert vt is not None and vt.task.status is Status.PENDING
    rows = ledger(stack, tid)
    assert [(r["action"], r["outcome"]) for r in rows] == [
        ("claim", "applied"),
        ("release", "applied"),
    ]
    assert rows[0]["op_id"] != rows[1]["op_id"]


async def test_undo_offline_withdraws_the_action_and_the_server_never_sees_it(
    stack: LocalStack, kitchen: Kitchen, tmp_path: Path, proxy: FaultProxy
) -> None:
    with connect(stack.db_dsn) as conn:
        tid = add_task(conn, kitchen, title="Dice onions", station="Prep")
    async with live_board(
        stack, kitchen, tmp_path / "a", "pass", url=proxy.url, sync_overrides=FAST
    ) as (store, app, pilot):
        await until(pilot, lambda: tid in app._cards)
        await proxy.refuse(True)  # the kitchen Wi-Fi drops
        await claim_selected(app, pilot, tid)
        assert len(store.pending_ops()) == 1
        # At once, while the outbox may be trying to send it: the undo waits for a send
        # on its way to end (refused: it never left) and withdraws it.
        await pilot.press("z")
        await until(pilot, lambda: not store.pending_ops())
        await proxy.refuse(False)
        await proxy.heal()
        # Back online: the board resyncs; the withdrawn claim is never delivered.
        await until(pilot, lambda: app.status.state.value == "live", within=15)
        await until(pilot, lambda: app.status.last_sync_at is not None)
        vt = store.get(tid)
        assert vt is not None and vt.task.status is Status.PENDING
    assert ledger(stack, tid) == []
    assert status_of(stack, tid) == "pending"
