"""Commit-to-client latency of the local stack's Realtime postgres_changes.

Starts `caterking-server serve` (embedded Postgres with wal_level=logical, the whole
stack) in its own process on a fresh data dir, then from this process subscribes N raw
WebSocket clients (vsn 1.0.0, one display device JWT each with its own `sub`, private
kitchen channel, `kitchen_id=eq.<id>` filter, so RLS is checked for each distinct claims
set as for real displays) and inserts tasks straight into Postgres at R changes/s.
Latency = client receive time − the writer's clock just before the INSERT (autocommit, so
it includes the statement and its commit). Prints p50/p95/p99 per (N, R), the server
process's, Postgres's and the bench's CPU (cores) and how busy the whole machine was.

    .venv/bin/python bench/stack_latency.py [--seconds 5] [--clients 1,10,50] [--rates 20,100]
        [--profile-server FILE.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
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

from bench.machine import machine, pg_cpu_seconds  # noqa: E402
from caterking_server import tokens  # noqa: E402
from caterking_server.embedded_pg import free_port  # noqa: E402


class Server:
    """`caterking-server serve` in its own process (the stack as a person runs it)."""

    def __init__(
        self, data_dir: Path, port: int, profile: str | None, db_url: str | None = None
    ) -> None:
        cmd = [sys.executable]
        if profile:
            cmd += ["-m", "cProfile", "-o", profile]
        cmd += ["-m", "caterking_server.cli", "serve", "--port", str(port)]
        cmd += ["--data-dir", str(data_dir)]
        if db_url:
            cmd += ["--db-url", db_url]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.data_dir = data_dir
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("#"):
                break
        else:
            raise SystemExit(f"serve exited with {self.proc.wait()}")
        # The secrets (service key, database URL) are in stack.env, never on stdout.
        self.env: dict[str, str] = dict(
            ln.split("=", 1)
            for ln in (data_dir / "stack.env").read_text().splitlines()
            if "=" in ln
        )
        state = json.loads((data_dir / "stack.json").read_text())
        self.secret: str = state["jwt_secret"]
        self.url = self.env["SUPABASE_URL"]
        self.db_url = self.env["CATERKING_DB_URL"]
        self.anon = self.env["SUPABASE_ANON_KEY"]

    def cpu_seconds(self) -> float:
        """User+system CPU of the server process (not Postgres)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def pg_cpu_seconds(self) -> float:
        """User+system CPU of the embedded Postgres (postmaster and its backends)."""
        return pg_cpu_seconds(self.data_dir)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def busy_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    vals = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


async def run_case(
    server: Server, tenant: str, kitchen: str, n_clients: int, rate: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    topic = f"realtime:kitchen:{kitchen}"
    session = aiohttp.ClientSession()
    ws_url = server.url.replace("http", "ws", 1) + "/realtime/v1/websocket"
    sockets = []
    subscribed = 0
    done = asyncio.Event()

    async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
        nonlocal subscribed
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.time()
            data: str = msg.data
            if data.startswith(change_prefix):
                # Cheap on the client side: only the writer's timestamp is read.
                at = data.index(notes_key, data.index('"record":')) + len(notes_key)
                sent = float(data[at : data.index('"', at)])
                latencies.append((now - sent) * 1000)
                if len(latencies) >= expected:
                    all_in.set()
                continue
            frame = json.loads(data)
            ev = frame.get("event")
            if ev == "system" and frame["payload"]["message"] == "Subscribed to PostgreSQL":
                subscribed += 1
                if subscribed == n_clients:
                    done.set()

    n = int(rate * seconds)
    expected = n * n_clients
    change_prefix = json.dumps(
        {"topic": topic, "event": "postgres_changes"}, separators=(",", ":")
    )[:-1]
    notes_key = '"notes":"'
    all_in = asyncio.Event()
    tasks = []
    for _ in range(n_clients):
        claims = {
            "role": "authenticated",
            "sub": str(uuid.uuid4()),
            "exp": int(time.time()) + 3600,
            "app_metadata": {"tenant_id": tenant, "kitchen_id": kitchen, "device_kind": "display"},
        }
        ws = await session.ws_connect(
            ws_url, params={"apikey": server.anon, "vsn": "1.0.0"}, compress=0
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
            "access_token": tokens.sign(claims, server.secret),
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

    conn = await psycopg.AsyncConnection.connect(server.db_url, autocommit=True)
    cpu0, (busy0, total0), me0 = server.cpu_seconds(), busy_cpu(), os.times()
    pg0 = server.pg_cpu_seconds()
    start = time.monotonic()
    for i in range(n):
        target = start + i / rate
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        # The writer's clock just before the INSERT (autocommit): latency includes the
        # statement and its commit.
        await conn.execute(
            "insert into tasks (tenant_id, kitchen_id, title, notes) values (%s, %s, 'bench', %s)",
            (tenant, kitchen, repr(time.time())),
        )
    elapsed = time.monotonic() - start
    cpu1, (busy1, total1), me1 = server.cpu_seconds(), busy_cpu(), os.times()
    pg1 = server.pg_cpu_seconds()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_in.wait(), 10)
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
        "server_cpu": (cpu1 - cpu0) / elapsed,  # cores used by the server process
        "machine_busy": (busy1 - busy0) / max(1, total1 - total0),
        "pg_cpu": (pg1 - pg0) / elapsed,
        "bench_cpu": (me1.user + me1.system - me0.user - me0.system) / elapsed,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", default="1,10,50")
    ap.add_argument("--rates", default="20,100")
    ap.add_argument("--profile-server", metavar="FILE", help="cProfile the server into FILE")
    ap.add_argument("--db-url", default=None, help="use this Postgres instead of the embedded one")
    ap.add_argument("--smoke", action="store_true", help="a few seconds: 2 clients, 20/s, 1 s")
    args = ap.parse_args()
    if args.smoke:
        args.seconds, args.clients, args.rates = 1.0, "2", "20"

    data_dir = Path(tempfile.mkdtemp(prefix="caterking-bench-"))
    server = Server(data_dir, free_port(), args.profile_server, args.db_url)
    try:
        tenant, kitchen = str(uuid.uuid4()), str(uuid.uuid4())
        with psycopg.connect(server.db_url, autocommit=True) as c:
            c.execute("insert into tenants (id, name) values (%s, 'T')", (tenant,))
            c.execute(
                "insert into kitchens (id, tenant_id, name) values (%s, %s, 'K')", (kitchen, tenant)
            )
        rows = []
        for n in (int(x) for x in args.clients.split(",")):
            for r in (int(x) for x in args.rates.split(",")):
                rows.append(asyncio.run(run_case(server, tenant, kitchen, n, r, args.seconds)))
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    print(
        f"\nmachine: {machine()}, "
        f"{args.seconds:g} s per case; server = `caterking-server serve` in its own process"
    )
    print(
        f"{'clients':>7} {'chg/s':>6} {'recv/exp':>13} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'srv cpu':>7} {'pg cpu':>6} {'cli cpu':>7} {'box busy':>8}"
    )
    for row in rows:
        print(
            f"{row['clients']:>7} {row['rate']:>6} {row['received']:>6}/{row['expected']:<6} "
            f"{row['p50']:>7.1f} {row['p95']:>7.1f} {row['p99']:>7.1f} {row['max']:>7.1f} "
            f"{row['server_cpu']:>7.2f} {row['pg_cpu']:>6.2f} {row['bench_cpu']:>7.2f} {row['machine_busy']:>8.0%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
