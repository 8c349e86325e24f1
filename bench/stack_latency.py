"""Commit-to-client latency of the local stack's Realtime postgres_changes.

Runs embedded Postgres (wal_level=logical) and a RealtimeService in a child process, then
from this process subscribes N WebSocket clients (device JWTs, private kitchen channel,
`kitchen_id=eq.<id>` filter, so RLS is checked per subscriber as for a real display) and
inserts tasks at R changes/s. Latency = client receive time − the writer's clock just
before COMMIT (so it includes the commit itself). Prints p50/p95/p99 per (N, R).

    .venv/bin/python bench/stack_latency.py [--seconds 5] [--clients 1,10,50] [--rates 20,100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from caterking_display.localstack import tokens  # noqa: E402
from caterking_display.localstack.embedded_pg import EmbeddedPostgres, free_port  # noqa: E402

SECRET = "bench-secret-" + "x" * 40


def serve(db_url: str, port: int, ready: Any) -> None:
    from aiohttp import web

    from caterking_display.localstack.realtime import RealtimeService

    async def main() -> None:
        svc = RealtimeService(db_url, SECRET)
        await svc.start()
        app = web.Application()
        svc.add_routes(app)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            await svc.stop()

    import os

    prof_path = os.environ.get("BENCH_PROFILE")  # write a cProfile of the server here
    if prof_path:
        import cProfile
        import signal

        prof = cProfile.Profile()
        prof.enable()

        def dump(*_: Any) -> None:
            prof.disable()
            prof.dump_stats(prof_path)
            os._exit(0)

        signal.signal(signal.SIGTERM, dump)
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


async def run_case(
    port: int, db_url: str, tenant: str, kitchen: str, n_clients: int, rate: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    topic = f"realtime:kitchen:{kitchen}"
    session = aiohttp.ClientSession()
    anon = tokens.api_key("anon", SECRET)
    sockets = []
    subscribed = 0
    done = asyncio.Event()

    async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
        nonlocal subscribed
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.time()
            frame = json.loads(msg.data)
            ev = frame.get("event")
            if ev == "postgres_changes":
                sent = float(frame["payload"]["data"]["record"]["notes"])
                latencies.append((now - sent) * 1000)
            elif ev == "system" and frame["payload"]["message"] == "Subscribed to PostgreSQL":
                subscribed += 1
                if subscribed == n_clients:
                    done.set()

    tasks = []
    for _ in range(n_clients):
        claims = {
            "role": "authenticated",
            "sub": str(uuid.uuid4()),
            "exp": int(time.time()) + 3600,
            "app_metadata": {"tenant_id": tenant, "kitchen_id": kitchen, "device_kind": "display"},
        }
        ws = await session.ws_connect(
            f"ws://127.0.0.1:{port}/realtime/v1/websocket", params={"apikey": anon, "vsn": "1.0.0"}
        )
        sockets.append(ws)
        tasks.append(asyncio.create_task(reader(ws)))
        payload = {
            "config": {
                "private": True,
                "postgres_changes": [
                    {
                        "event": "*",
                        "schema": "public",
                        "table": "tasks",
                        "filter": f"kitchen_id=eq.{kitchen}",
                    }
                ],
            },
            "access_token": tokens.sign(claims, SECRET),
        }
        await ws.send_str(
            json.dumps(
                {
                    "topic": topic,
                    "event": "phx_join",
                    "payload": payload,
                    "ref": "1",
                    "join_ref": "1",
                }
            )
        )
    await asyncio.wait_for(done.wait(), 30)

    n = int(rate * seconds)
    conn = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    start = time.monotonic()
    for i in range(n):
        target = start + i / rate
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await conn.execute(
            "insert into tasks (tenant_id, kitchen_id, title, notes) values (%s, %s, 'bench', %s)",
            (tenant, kitchen, repr(time.time())),
        )
    expected = n * n_clients
    deadline = time.monotonic() + 10
    while len(latencies) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await conn.close()
    for ws in sockets:
        await ws.close()
    for t in tasks:
        t.cancel()
    await session.close()
    return {
        "clients": n_clients,
        "rate": rate,
        "received": len(latencies),
        "expected": expected,
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
        "p99": pct(latencies, 99),
        "max": max(latencies) if latencies else float("nan"),
        "mean": statistics.fmean(latencies) if latencies else float("nan"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", default="1,10,50")
    ap.add_argument("--rates", default="20,100")
    args = ap.parse_args()
    from caterking_display.schema.migrate import migrate

    tmp = Path(tempfile.mkdtemp(prefix="caterking-bench-"))
    pg = EmbeddedPostgres(tmp / "pg")
    pg.start()
    proc = None
    try:
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            c.execute("create database bench")
        db_url = pg.url("bench")
        migrate(db_url, with_base=True)
        tenant, kitchen = str(uuid.uuid4()), str(uuid.uuid4())
        with psycopg.connect(db_url, autocommit=True) as c:
            c.execute("insert into tenants (id, name) values (%s, 'T')", (tenant,))
            c.execute(
                "insert into kitchens (id, tenant_id, name) values (%s, %s, 'K')", (kitchen, tenant)
            )
        port = free_port()
        ctx = mp.get_context("spawn")
        ready = ctx.Event()
        proc = ctx.Process(target=serve, args=(db_url, port, ready), daemon=True)
        proc.start()
        if not ready.wait(60):
            raise SystemExit("server did not start")
        rows = []
        for n in (int(x) for x in args.clients.split(",")):
            for r in (int(x) for x in args.rates.split(",")):
                rows.append(
                    asyncio.run(run_case(port, db_url, tenant, kitchen, n, r, args.seconds))
                )
        import os
        import platform

        print(
            f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, {args.seconds:.0f} s per case"
        )
        print(
            f"{'clients':>7} {'chg/s':>6} {'recv/exp':>13} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
        )
        for row in rows:
            print(
                f"{row['clients']:>7} {row['rate']:>6} {row['received']:>6}/{row['expected']:<6} "
                f"{row['p50']:>7.1f} {row['p95']:>7.1f} {row['p99']:>7.1f} {row['max']:>7.1f}"
            )
    finally:
        if proc is not None:
            proc.terminate()
            proc.join(10)
        pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
