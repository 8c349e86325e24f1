"""A damaged board file on the real stack: every readable unsent action reaches the
server exactly once — the ones that had already reached it before the damage (their
answers lost) are replayed under the same op id and answered 'duplicate' — and the
board is refetched from the server."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest

from caterking_display.backend import SupabaseBackend
from caterking_display.domain.actions import Action, Outcome
from caterking_display.domain.board import PendingOp
from caterking_display.domain.clock import SystemClock
from caterking_display.domain.sync_status import ConnectionState as S
from caterking_display.domain.task import Status
from caterking_display.store import BoardStore
from caterking_server.stack import LocalStack
from tests.faultproxy import FaultProxy
from tests.pg import Kitchen, add_task
from tests.sync.integration.conftest import Clients, Device
from tests.waiting import until

PAGE = 512


def _pages(path: Path, name: str) -> list[int]:
    with closing(sqlite3.connect(path)) as c:
        rows = c.execute(
            "SELECT pageno FROM dbstat WHERE name=? AND pagetype='leaf' ORDER BY pageno", (name,)
        ).fetchall()
    return [int(r[0]) for r in rows]


def _damage(path: Path, how: str, ops: list[PendingOp]) -> list[PendingOp]:
    """Damage the closed store file; return the ops whose rows it destroyed."""
    data = bytearray(path.read_bytes())
    if how == "header":
        data[:100] = b"\xab" * 100
        lost: list[PendingOp] = []
    else:  # the ops page holding the oldest op (one already delivered)
        leaves = _pages(path, "ops")
        assert len(leaves) >= 2

        def on(n: int) -> list[PendingOp]:
            page = bytes(data[(n - 1) * PAGE : n * PAGE])
            return [o for o in ops if o.op_id.encode() in page]

        victim = next(n for n in leaves if ops[0] in on(n))
        lost = on(victim)
        data[(victim - 1) * PAGE : victim * PAGE] = b"\xab" * PAGE
    path.write_bytes(bytes(data))
    return lost


def _ledger(db: psycopg.Connection[Any], op_ids: list[str]) -> dict[str, list[str]]:
    rows = db.execute(
        "select op_id::text, outcome from task_ops where op_id = any(%s::uuid[])", (op_ids,)
    ).fetchall()
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["op_id"], []).append(r["outcome"])
    return out


@pytest.mark.parametrize("how", ["header", "ops_page"])
async def test_a_damaged_board_file_delivers_each_readable_action_exactly_once(
    how: str,
    clients: Clients,
    kitchen: Kitchen,
    display: Device,
    db: psycopg.Connection[Any],
    proxy: FaultProxy,
    sync_stack: LocalStack,
    tmp_path: Path,
) -> None:
    tasks = [add_task(db, kitchen, title=f"Prep {i}") for i in range(6)]
    chef = kitchen.staff[0]
    path = tmp_path / "board.sqlite3"
    with closing(sqlite3.connect(path)) as c:  # small pages: the outbox spans several
        c.execute(f"PRAGMA page_size={PAGE}")
        c.execute("PRAGMA user_version=0")
        c.commit()

    # The Wi-Fi is down while the chef works: six claims queue up, the engine retries.
    await proxy.refuse(True)
    first = clients.make("pass-1", path=path)
    ops = [first.store.enqueue(Action.CLAIM, t, chef) for t in tasks]
    await until(lambda: first.status.attempt >= 2 and first.status.last_error is not None, 10)
    await first.stop()
    await first.backend.aclose()
    first.store.close()
    clients.engines.remove(first)

    # Three of them had in fact reached the server; only their answers were lost.
    delivered = ops[:3]
    direct = SupabaseBackend(sync_stack.url, sync_stack.anon_key)
    try:
        await direct.sign_in(display.email, display.password)
        for op in delivered:
            r = await direct.call_action(
                op.action, op.task_id, op.staff_id, op.op_id, op.device, 5.0
            )
            assert r.outcome is Outcome.APPLIED
    finally:
        await direct.aclose()
    ids = [o.op_id for o in ops]
    assert _ledger(db, ids) == {o.op_id: ["applied"] for o in delivered}

    # The board file is damaged; the display restarts.
    lost = _damage(path, how, ops)
    store = BoardStore.open(path, SystemClock(), "pass-1")
    readable = [o for o in ops if o not in lost]
    assert [o.op_id for o in store.pending_ops()] == [o.op_id for o in readable]
    assert store.pending_ops() == readable  # attempts, created_at, device... as they were
    report = store.recovery
    assert report is not None and report.ops_recovered == len(readable)
    assert report.ops_lost == len(lost)
    assert report.lost_op_ids == tuple(o.op_id for o in lost)
    assert store.saved_at is None and store.view().tasks == {}  # nothing stale shown

    answers: dict[str, list[Outcome]] = {}
    resolve = store.resolve_op

    def record(op_id: str, outcome: Outcome, task: Any, reason: str | None) -> Any:
        answers.setdefault(op_id, []).append(Outcome(outcome))
        return resolve(op_id, outcome, task, reason)

    store.resolve_op = record  # type: ignore[method-assign]
    await proxy.heal()
    eng = clients.make("pass-1", store=store)
    await until(lambda: not store.pending_ops() and eng.status.state is S.LIVE, 20)
    await until(lambda: store.saved_at is not None, 10)  # the board was refetched

    # Every readable op was answered once: replays 'duplicate', the rest 'applied'.
    assert answers == {
        o.op_id: [Outcome.DUPLICATE if o in delivered else Outcome.APPLIED] for o in readable
    }
    # The ledger: each op applied exactly once, none twice, a lost undelivered one never.
    reached = [o for o in ops if o in delivered or o not in lost]
    assert _ledger(db, ids) == {o.op_id: ["applied"] for o in reached}
    for o in ops:
        row = db.execute("select status, version from tasks where id = %s", (o.task_id,))
        expected = (
            {"status": "claimed", "version": 2}
            if o in reached
            else {"status": "pending", "version": 1}
        )
        assert row.fetchone() == expected
        shown = store.view().tasks[o.task_id].task.status
        assert shown is (Status.CLAIMED if o in reached else Status.PENDING)
    assert store.failed_actions() == []
