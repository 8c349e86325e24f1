"""A board knows its own claims by the name the server records for them: its account's
device name, not whatever its configuration says. Found when the server began taking
the device from the account (migration 0005): a board configured as "wall-pi" whose
account records "display-1a2b" saw its own claims as made on another board, so
Done asked "claimed on another board — are you sure?" for the chef who just claimed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from caterking_display.domain.actions import Action
from caterking_display.domain.clock import SystemClock
from caterking_display.domain.sync_status import ConnectionState as S
from caterking_display.domain.task import Status
from caterking_display.store import BoardStore
from caterking_server.stack import LocalStack
from tests.faultproxy import FaultProxy
from tests.pg import Kitchen, add_task
from tests.stack import create_display
from tests.sync.integration.conftest import Clients
from tests.waiting import until


async def test_the_board_takes_its_accounts_device_name(
    clients: Clients, kitchen: Kitchen, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    recorded = clients.device.email.split("@")[0]  # the account has no device_name
    path = tmp_path / "board.sqlite3"
    board = clients.make("wall-pi", path=path)
    assert board.store.device_name == "wall-pi"  # not signed in yet: the configured one
    await until(lambda: board.status.state is S.LIVE, 10)
    assert board.store.device_name == recorded

    tid = add_task(db, kitchen)
    await until(lambda: board.store.get(tid) is not None, 5)
    board.store.enqueue(Action.CLAIM, tid, kitchen.staff[0])
    predicted = board.store.get(tid)
    assert predicted is not None and predicted.task.claimed_device == recorded
    await until(lambda: not board.store.pending_ops(), 5)
    row = db.execute("select claimed_device from tasks where id = %s", (tid,)).fetchone()
    assert row is not None and row["claimed_device"] == recorded
    confirmed = board.store.get(tid)
    assert confirmed is not None and confirmed.task.status is Status.CLAIMED
    assert confirmed.task.claimed_device == board.store.device_name

    # Kept for the next start, which may be offline.
    await board.stop()
    board.store.close()
    clients.engines.remove(board)
    await board.backend.aclose()
    again = BoardStore.open(path, SystemClock(), "wall-pi")
    try:
        assert again.device_name == recorded
    finally:
        again.close()


async def test_an_account_device_name_wins_over_the_email(
    sync_stack: LocalStack, proxy: FaultProxy, kitchen: Kitchen
) -> None:
    dev = create_display(sync_stack.url, sync_stack.service_role_key, kitchen, "pass-2")
    clients = Clients(proxy.url, sync_stack.anon_key, dev)
    try:
        board = clients.make("wall-pi")
        await until(lambda: board.store.device_name == "pass-2", 10)
    finally:
        await clients.close()
