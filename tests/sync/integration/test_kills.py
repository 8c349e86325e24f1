"""SIGKILL: a client killed with ops queued (a new process on its store file delivers
them), and the stack killed and restarted on its data dir (clients recover)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from caterking_display.domain.sync_status import ConnectionState as S
from caterking_display.domain.task import Status
from caterking_server.stack import LocalStack
from tests.faultproxy import FaultProxy, free_port
from tests.pg import Kitchen, add_task
from tests.sync.integration.conftest import Clients, Device
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[3]


async def test_a_killed_client_s_queued_ops_are_delivered_by_the_next_process(
    clients: Clients,
    kitchen: Kitchen,
    display: Device,
    db: psycopg.Connection[Any],
    proxy: FaultProxy,
    sync_stack: LocalStack,
    tmp_path: Path,
) -> None:
    tasks = [add_task(db, kitchen, title=f"Prep {i}") for i in range(3)]
    await proxy.refuse(True)  # the network is down while the chef works
    store_path = tmp_path / "board.sqlite"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.sync.integration.client_proc",
        proxy.url, sync_stack.anon_key, display.email, display.password, str(store_path),
        kitchen.staff[0], *tasks,
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 20)
    assert line.decode().strip() == "queued 3"
    line = await asyncio.wait_for(proc.stdout.readline(), 20)
    assert line.decode().strip() == "retrying"  # it tried the refused port and waits
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    assert db.execute(
        "select count(*) n from task_ops where task_id = any(%s)", (tasks,)
    ).fetchone() == {"n": 0}

    await proxy.heal()
    eng = clients.make("pass-restarted", path=store_path)
    assert len(eng.store.pending_ops()) == 3  # survived the kill
    await until(lambda: not eng.store.pending_ops(), 10)
    rows = db.execute(
        "select task_id, outcome from task_ops where task_id = any(%s)", (tasks,)
    ).fetchall()
    assert sorted(str(r["task_id"]) for r in rows) == sorted(tasks)
    assert {r["outcome"] for r in rows} == {"applied"}
    await until(
        lambda: all(eng.store.view().tasks[t].task.status is Status.CLAIMED for t in tasks), 5
    )


@pytest.fixture
def stack_proc_db(pg_server: Any) -> Any:
    import uuid

    from tests.pg import TEMPLATE_DB

    name = f"sk_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(f"create database {name} template {TEMPLATE_DB}")
    yield pg_server.url(name)
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")


def _serve(data_dir: Path, port: int, db_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "caterking_server.cli", "serve", "--data-dir", str(data_dir),
         "--port", str(port), "--db-url", db_url],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def _wait_up(url: str, within: float = 30) -> None:
    async with httpx.AsyncClient() as c:
        deadline = time.monotonic() + within
        while True:
            try:
                r = await c.get(f"{url}/auth/v1/health", timeout=1)
                if r.status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(url)
            await asyncio.sleep(0.1)


async def test_stack_killed_and_restarted_clients_recover_and_converge(
    stack_proc_db: str, tmp_path: Path
) -> None:
    from tests.pg import seed_kitchen
    from tests.stack import create_display

    data_dir = tmp_path / "stack"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(data_dir, port, stack_proc_db)
    c: Clients | None = None
    try:
        await _wait_up(url)
        env = dict(line.split("=", 1) for line in (data_dir / "stack.env").read_text().splitlines())
        anon, service = env["SUPABASE_ANON_KEY"], env["SUPABASE_SERVICE_ROLE_KEY"]
        with psycopg.connect(stack_proc_db, autocommit=True) as conn:
            k: Kitchen = seed_kitchen(conn)  # type: ignore[arg-type]
            t1 = add_task(conn, k, title="Before the crash")  # type: ignore[arg-type]
        dev = create_display(url, service, k)
        c = Clients(url, anon, dev)
        a = c.make("pass-a")
        b = c.make("pass-b")
        await until(lambda: a.status.state is S.LIVE and b.status.state is S.LIVE, 15)

        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        await until(lambda: a.status.state is not S.LIVE and b.status.state is not S.LIVE, 15)
        from caterking_display.domain.actions import Action

        a.store.enqueue(Action.CLAIM, t1, k.staff[0])  # while the server is gone
        with psycopg.connect(stack_proc_db, autocommit=True) as conn:
            t2 = add_task(conn, k, title="Added while the stack was down")  # type: ignore[arg-type]

        proc = _serve(data_dir, port, stack_proc_db)
        await _wait_up(url)
        await until(lambda: a.status.state is S.LIVE and b.status.state is S.LIVE, 20)
        await until(
            lambda: all(
                t2 in e.store.view().tasks
                and e.store.view().tasks[t1].task.status is Status.CLAIMED
                and not e.store.pending_ops()
                for e in (a, b)
            ),
            10,
        )
    finally:
        if c is not None:
            await c.close()
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
