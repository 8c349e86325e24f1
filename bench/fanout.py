"""Fan-out: commit-to-client latency, cost and bytes per change, postgres_changes against
Broadcast from the database, as the number of displays grows.

Starts `caterking-server serve` in its own process (embedded PostgreSQL on a temp data
dir, or `--db-url`), then for each mode, N displays and R changes/s: N raw WebSocket
clients (vsn 1.0.0, each a display device JWT with its own `sub`) join the private
channel `kitchen:<id>`:

- `postgres_changes`: with the board's binding (`tasks`, `kitchen_id=eq.<id>`): the
  server checks row-level security once per change per distinct claims set (joined to
  `kitchen:<id>:pg`, so 0007's broadcasts do not reach them: each mode alone);
- `broadcast`: with no binding: migration 0007's trigger writes each change once into
  realtime.messages and the server relays it to the joined channel (authorised once, at
  join).

One connection inserts tasks at R changes/s (autocommit). Latency = the client's
receive time − the writer's clock just before the INSERT (so it includes the statement,
its triggers and its commit). Also: cores used by the server, by PostgreSQL and by the
bench clients, PostgreSQL CPU per change, how busy the machine was, and the bytes of
one change's frame on the wire per display (WebSocket header + payload, uncompressed).

    .venv/bin/python bench/fanout.py [--seconds 5] [--clients 10,50,200] [--rates 20,100]
        [--modes postgres_changes,broadcast] [--db-url URL] [--smoke]

`--smoke`: both modes, 2 displays × 20 changes/s for 1 s each (tests/bench runs it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.abuse import Server, claims, pct  # noqa: E402
from bench.machine import machine  # noqa: E402
from bench.machine import pg_cpu_seconds as machine_pg_cpu_seconds  # noqa: E402
from bench.stack_latency import busy_cpu  # noqa: E402
from caterking_server import tokens  # noqa: E402
from caterking_server.embedded_pg import free_port  # noqa: E402

MODES = ("postgres_changes", "broadcast")
NOTES_KEY = '"notes":'  # then '"' (compact JSON) or ' "' (PostgreSQL's jsonb text)


def pg_cpu_seconds(server: Server) -> float:
    """User+system CPU of the embedded PostgreSQL; nan with an outside database."""
    return machine_pg_cpu_seconds(server.data_dir)


def server_cpu_seconds(server: Server) -> float:
    t = server.ps.cpu_times()
    return float(t.user + t.system)


def ws_header_bytes(n: int) -> int:
    """A server-to-client WebSocket frame header (unmasked) for an n-byte payload."""
    return 2 if n < 126 else 4 if n < 65536 else 10


def join_frame(topic: str, mode: str, kitchen: str, token: str) -> str:
    config: dict[str, Any] = {
        "private": True,
        "broadcast": {"ack": False, "self": False},
        "presence": {"key": "", "enabled": False},
        "postgres_changes": [],
    }
    if mode == "postgres_changes":
        config["postgres_changes"] = [
            {
                "event": "*",
                "schema": "public",
                "table": "tasks",
                "filter": f"kitchen_id=eq.{kitchen}",
            }
        ]
    return json.dumps(
        {
            "topic": topic,
            "event": "phx_join",
            "payload": {"config": config, "access_token": token},
            "ref": "1",
            "join_ref": "1",
        }
    )


async def run_case(
    server: Server, tenant: str, kitchen: str, mode: str, n_clients: int, rate: int, seconds: float
) -> dict[str, Any]:
    # postgres_changes clients join a sub-topic of the kitchen (the policies allow
    # `kitchen:<id>:*`), so the broadcasts migration 0007 sends to `kitchen:<id>` do not
    # reach them: each mode is measured alone.
    topic = f"realtime:kitchen:{kitchen}" + (":pg" if mode == "postgres_changes" else "")
    latencies: list[float] = []
    frame_bytes: list[int] = []
    joined = 0
    warm: set[int] = set()
    all_joined, all_warm, all_in = asyncio.Event(), asyncio.Event(), asyncio.Event()
    warm_tag = f"warm-{uuid.uuid4().hex}"
    n = int(rate * seconds)
    expected = n * n_clients
    measuring = False

    async def reader(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        nonlocal joined
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.time()
            data: str = msg.data
            at = data.find(NOTES_KEY)
            if at >= 0:  # a change, in either mode: only the writer's timestamp is read
                at = data.index('"', at + len(NOTES_KEY)) + 1
                value = data[at : data.index('"', at)]
                if value == warm_tag:
                    warm.add(i)
                    if len(warm) == n_clients:
                        all_warm.set()
                elif measuring:
                    latencies.append((now - float(value)) * 1000)
                    if len(frame_bytes) < 1000:
                        size = len(data.encode())
                        frame_bytes.append(size + ws_header_bytes(size))
                    if len(latencies) >= expected:
                        all_in.set()
                continue
            frame = json.loads(data)
            ev, payload = frame.get("event"), frame.get("payload") or {}
            ready = (
                ev == "system" and payload.get("message") == "Subscribed to PostgreSQL"
                if mode == "postgres_changes"
                else ev == "phx_reply" and payload.get("status") == "ok"
            )
            if ready:
                joined += 1
                if joined == n_clients:
                    all_joined.set()
            elif ev == "phx_reply" and payload.get("status") != "ok":
                raise SystemExit(f"join refused: {payload}")

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    readers: list[asyncio.Task[None]] = []
    try:
        for i in range(n_clients):
            ws = await session.ws_connect(
                server.ws_url, params={"apikey": server.anon, "vsn": "1.0.0"}, compress=0
            )
            sockets.append(ws)
            readers.append(asyncio.create_task(reader(i, ws)))
            token = tokens.sign(claims(tenant, kitchen), server.secret)
            await ws.send_str(join_frame(topic, mode, kitchen, token))
        await asyncio.wait_for(all_joined.wait(), 60)

        async with await psycopg.AsyncConnection.connect(server.db_url, autocommit=True) as conn:

            async def insert(notes: str) -> None:
                await conn.execute(
                    "insert into tasks (tenant_id, kitchen_id, title, notes) "
                    "values (%s, %s, 'bench', %s)",
                    (tenant, kitchen, notes),
                )

            # One change every display must see before measuring: the path is live.
            await insert(warm_tag)
            warm_note = ""
            try:
                await asyncio.wait_for(all_warm.wait(), 30)
            except TimeoutError:
                # Measured anyway: received/expected shows what the others missed.
                warm_note = f"only {len(warm)} of {n_clients} displays got the first change"
                print(f"{mode}, {n_clients} × {rate}: {warm_note}", flush=True)
            measuring = True
            cpu0, pg0, me0 = server_cpu_seconds(server), pg_cpu_seconds(server), os.times()
            busy0, total0 = busy_cpu()
            start = time.monotonic()
            for i in range(n):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await insert(repr(time.time()))
            # CPU is counted until the last change arrived (or 10 s more): a backlog the
            # server works off after the writer stopped is part of the changes' cost.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_in.wait(), 10)
            elapsed = time.monotonic() - start
            cpu1, pg1, me1 = server_cpu_seconds(server), pg_cpu_seconds(server), os.times()
            busy1, total1 = busy_cpu()
    finally:
        for ws in sockets:
            await ws.close()
        for t in readers:
            t.cancel()
        await session.close()
    pg_cpu = (pg1 - pg0) / elapsed
    return {
        "mode": mode,
        "clients": n_clients,
        "rate": rate,
        "received": len(latencies),
        "expected": expected,
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
        "p99": pct(latencies, 99),
        "max": max(latencies) if latencies else float("nan"),
        "mean": statistics.fmean(latencies) if latencies else float("nan"),
        "server_cpu": (cpu1 - cpu0) / elapsed,
        "pg_cpu": pg_cpu,
        "pg_ms_per_change": (pg1 - pg0) / max(1, n) * 1000,
        "srv_ms_per_change": (cpu1 - cpu0) / max(1, n) * 1000,
        "bench_cpu": (me1.user + me1.system - me0.user - me0.system) / elapsed,
        "machine_busy": (busy1 - busy0) / max(1, total1 - total0),
        "bytes": statistics.median(frame_bytes) if frame_bytes else float("nan"),
        "note": warm_note,
    }


def trigger_cost(db_url: str, tenant: str, kitchen: str, rows: int = 2000) -> str:
    """In-database cost of migration 0007's trigger per task INSERT and UPDATE: the same
    statements with the trigger enabled and disabled (each rolled back), best of three."""

    def timed(conn: psycopg.Connection[Any], sql: str) -> float:
        best = float("inf")
        for _ in range(3):
            with conn.transaction(force_rollback=True):
                conn.execute(
                    "insert into tasks (tenant_id, kitchen_id, title, notes) "
                    "select %s, %s, 'cost ' || g, 'n' from generate_series(1, %s) g",
                    (tenant, kitchen, rows),
                )
                t0 = time.perf_counter()
                conn.execute(sql, (tenant, kitchen, rows))
                best = min(best, time.perf_counter() - t0)
        return best

    ins = (
        "insert into tasks (tenant_id, kitchen_id, title, notes) "
        "select %s, %s, 'cost ' || g, 'n' from generate_series(1, %s) g"
    )
    upd = "update tasks set priority = 1 where tenant_id = %s and kitchen_id = %s and %s > 0"
    with psycopg.connect(db_url, autocommit=True) as conn:
        on = (timed(conn, ins), timed(conn, upd))
        conn.execute("alter table tasks disable trigger tasks_broadcast")
        try:
            off = (timed(conn, ins), timed(conn, upd))
        finally:
            conn.execute("alter table tasks enable trigger tasks_broadcast")
    per = [(a - b) / rows * 1e6 for a, b in zip(on, off, strict=True)]
    base = [b / rows * 1e6 for b in off]
    return (
        f"0007 trigger in the database: +{per[0]:.0f} µs per task INSERT (of {base[0]:.0f} µs "
        f"without it), +{per[1]:.0f} µs per UPDATE (of {base[1]:.0f} µs); {rows} rows per "
        "statement, best of 3"
    )


def table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        f"{'mode':<16} {'displays':>8} {'chg/s':>5} {'recv/exp':>13} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} {'srv cpu':>7} {'pg cpu':>6} "
        f"{'pg ms/chg':>9} {'srv ms/chg':>10} {'cli cpu':>7} {'busy':>5} {'B/chg/disp':>10}"
    ]
    for r in rows:
        out.append(
            f"{r['mode']:<16} {r['clients']:>8} {r['rate']:>5} "
            f"{r['received']:>6}/{r['expected']:<6} {r['p50']:>7.1f} {r['p95']:>7.1f} "
            f"{r['p99']:>7.1f} {r['max']:>7.1f} {r['server_cpu']:>7.2f} {r['pg_cpu']:>6.2f} "
            f"{r['pg_ms_per_change']:>9.2f} {r['srv_ms_per_change']:>10.2f} {r['bench_cpu']:>7.2f} {r['machine_busy']:>5.0%} "
            f"{r['bytes']:>10.0f}" + (f"  ({r['note']})" if r["note"] else "")
        )
    return out


def main(argv: Sequence[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", default="10,50,200")
    ap.add_argument("--rates", default="20,100")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--db-url", help="serve on this (migrated) database instead")
    ap.add_argument("--smoke", action="store_true", help="a few seconds: 2 displays × 20/s")
    args = ap.parse_args(argv)
    if args.smoke:
        args.seconds, args.clients, args.rates = 1.0, "2", "20"
    modes = [m for m in args.modes.split(",") if m]
    if not set(modes) <= set(MODES):
        ap.error(f"--modes: choose from {', '.join(MODES)}")

    work = Path(tempfile.mkdtemp(prefix="caterking-fanout-"))
    server = Server(work / "data", free_port(), args.db_url, [])
    rows: list[dict[str, Any]] = []
    try:
        tenant, kitchen = str(uuid.uuid4()), str(uuid.uuid4())
        with psycopg.connect(server.db_url, autocommit=True) as c:
            c.execute("insert into tenants (id, name) values (%s, 'T')", (tenant,))
            c.execute(
                "insert into kitchens (id, tenant_id, name) values (%s, %s, 'K')",
                (kitchen, tenant),
            )
        cost = trigger_cost(server.db_url, tenant, kitchen, 200 if args.smoke else 2000)
        for mode in modes:
            for n in (int(x) for x in args.clients.split(",")):
                for r in (int(x) for x in args.rates.split(",")):
                    rows.append(
                        asyncio.run(run_case(server, tenant, kitchen, mode, n, r, args.seconds))
                    )
    except BaseException:
        print("server log (last lines):\n" + "\n".join(server.log().splitlines()[-15:]))
        raise
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"machine: {machine()}; {args.seconds:g} s per case; "
        "server = `caterking-server serve` in its own process",
        *table(rows),
        cost,
    ]
    for line in lines:
        print(line, flush=True)
    return lines


if __name__ == "__main__":
    main()
