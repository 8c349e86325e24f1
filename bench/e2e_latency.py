"""End-to-end sync latency: client A acts, client B's store shows it.

Runs `caterking-server serve` (embedded Postgres) as a subprocess on a temp data dir,
so the process RSS measured here is the sync clients' only. Prints a table:

- store-to-store latency p50/p95/p99 over N actions with 2 and 10 clients
  (every other client's store must show the new version; one sample per receiver);
- recovery after a 10 s outage (fault proxy refusing + dropping connections):
  heal → client live again, and heal → a change made meanwhile is on its board;
- RSS of a client process after 10,000 server events.

usage: python bench/e2e_latency.py [--actions 1000] [--events 10000] [--outage 10]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402

from caterking_display.backend import SupabaseBackend  # noqa: E402
from caterking_display.domain.actions import Action  # noqa: E402
from caterking_display.domain.clock import SystemClock  # noqa: E402
from caterking_display.domain.sync_status import ConnectionState  # noqa: E402
from caterking_display.store import BoardStore  # noqa: E402
from caterking_display.sync import SyncEngine, SyncSettings  # noqa: E402
from tests.faultproxy import FaultProxy, free_port  # noqa: E402


async def until(cond: Any, within: float) -> None:
    async with asyncio.timeout(within):
        while not cond():  # noqa: ASYNC110
            await asyncio.sleep(0.002)


class Stack:
    def __init__(self, data_dir: Path, db_url: str | None = None) -> None:
        self.data_dir = data_dir
        self.db_url = db_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
            [sys.executable, "-m", "caterking_server.cli", "serve", "--data-dir",
             str(self.data_dir), "--port", str(self.port),
             *(["--db-url", self.db_url] if self.db_url else [])],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        async with httpx.AsyncClient() as c:
            for _ in range(1200):
                try:
                    if (await c.get(f"{self.url}/auth/v1/health", timeout=1)).status_code < 500:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        env = dict(
            ln.split("=", 1) for ln in (self.data_dir / "stack.env").read_text().splitlines()
        )
        self.anon, self.service, self.db = (
            env["SUPABASE_ANON_KEY"],
            env["SUPABASE_SERVICE_ROLE_KEY"],
            env["CATERKING_DB_URL"],
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)


def seed(stack: Stack, n_tasks: int) -> tuple[str, str, list[str], str, str]:
    tenant, kitchen, staff = (str(uuid.uuid4()) for _ in range(3))
    tasks = [str(uuid.uuid4()) for _ in range(n_tasks)]
    with psycopg.connect(stack.db, autocommit=True) as c:
        c.execute("insert into tenants (id, name) values (%s, 'Bench')", (tenant,))
        c.execute(
            "insert into kitchens (id, tenant_id, name) values (%s, %s, 'K')", (kitchen, tenant)
        )
        c.execute(
            "insert into staff (id, tenant_id, kitchen_id, display_name, initials) "
            "values (%s, %s, %s, 'Chef', 'CH')", (staff, tenant, kitchen),
        )  # fmt: skip
        for t in tasks:
            c.execute(
                "insert into tasks (id, tenant_id, kitchen_id, title) values (%s, %s, %s, 'T')",
                (t, tenant, kitchen),
            )
    email, pw = f"bench-{uuid.uuid4().hex[:6]}@bench.local", uuid.uuid4().hex
    r = httpx.post(
        f"{stack.url}/auth/v1/admin/users",
        headers={"apikey": stack.service, "Authorization": f"Bearer {stack.service}"},
        json={"email": email, "password": pw, "email_confirm": True,
              "app_metadata": {"tenant_id": tenant, "kitchen_id": kitchen,
                               "device_kind": "display"}},
    )  # fmt: skip
    r.raise_for_status()
    return kitchen, staff, tasks, email, pw


def engine(url: str, anon: str, email: str, pw: str, name: str) -> SyncEngine:
    clock = SystemClock()
    e = SyncEngine(
        BoardStore(None, clock, name),
        SupabaseBackend(url, anon),
        clock,
        SyncSettings(email=email, password=pw, device=name, backoff_cap=2.0,
                     heartbeat_interval=5.0, rng=random.Random(name)),
    )  # fmt: skip
    e.start()
    return e


async def close(engines: list[SyncEngine]) -> None:
    for e in engines:
        await e.stop()
        await e.backend.aclose()
        e.store.close()


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))] * 1000


async def latency(stack: Stack, n_clients: int, actions: int) -> dict[str, float]:
    _k, staff, tasks, email, pw = seed(stack, 20)
    es = [engine(stack.url, stack.anon, email, pw, f"c{i}") for i in range(n_clients)]
    try:
        await until(lambda: all(e.status.state is ConnectionState.LIVE for e in es), 30)
        a, others = es[0], es[1:]
        seen: dict[tuple[int, str, int], float] = {}
        for i, e in enumerate(others):

            def listener(ids: frozenset[str], i: int = i, e: SyncEngine = e) -> None:
                now = time.perf_counter()
                for tid in ids:
                    vt = e.store.get(tid)
                    if vt is not None:
                        seen.setdefault((i, tid, vt.task.version), now)

            e.store.subscribe(listener)
        samples: list[float] = []
        for n in range(actions):
            tid = tasks[n % len(tasks)]
            cur = a.store.confirmed(tid)
            assert cur is not None
            act = Action.CLAIM if cur.status.value == "pending" else Action.RELEASE
            t0 = time.perf_counter()
            a.store.enqueue(act, tid, staff)
            await until(lambda: not a.store.pending_ops(), 10)
            v = a.store.confirmed(tid).version  # type: ignore[union-attr]
            await until(
                lambda tid=tid, v=v: all((i, tid, v) in seen for i in range(len(others))), 10
            )
            samples += [seen[(i, tid, v)] - t0 for i in range(len(others))]
        return {"p50": pct(samples, 50), "p95": pct(samples, 95), "p99": pct(samples, 99),
                "max": max(samples) * 1000, "n": len(samples)}  # fmt: skip
    finally:
        await close(es)


async def recovery(stack: Stack, outage: float) -> dict[str, float]:
    _k, staff, tasks, email, pw = seed(stack, 3)
    host, port = "127.0.0.1", stack.port
    proxy = await FaultProxy(host, port).start()
    a = engine(proxy.url, stack.anon, email, pw, "r-a")
    b = engine(stack.url, stack.anon, email, pw, "r-b")
    try:
        await until(lambda: a.status.state is ConnectionState.LIVE, 30)
        await until(lambda: b.status.state is ConnectionState.LIVE, 30)
        await proxy.refuse(True)
        b.store.enqueue(Action.CLAIM, tasks[0], staff)  # changes while A is cut off
        await asyncio.sleep(outage)
        await proxy.heal()
        t0 = time.perf_counter()
        await until(lambda: a.status.state is ConnectionState.LIVE, 60)
        live = time.perf_counter() - t0
        await until(lambda: a.store.view().tasks[tasks[0]].task.claimed_by == staff, 10)
        return {"live_s": live, "converged_s": time.perf_counter() - t0}
    finally:
        await close([a, b])
        await proxy.stop()


async def rss_after_events(stack: Stack, events: int) -> dict[str, float]:
    _kitchen, _staff, tasks, email, pw = seed(stack, 50)
    e = engine(stack.url, stack.anon, email, pw, "rss")
    try:
        await until(lambda: e.status.state is ConnectionState.LIVE, 30)
        gc.collect()
        before = psutil.Process().memory_info().rss
        count = 0

        def on(ids: frozenset[str]) -> None:
            nonlocal count
            count += len(ids)

        e.store.subscribe(on)

        def write_all() -> None:
            with psycopg.connect(stack.db, autocommit=True) as c:
                for n in range(events):
                    c.execute("update tasks set notes = %s where id = %s", (f"n{n}", tasks[n % 50]))

        # In a thread: the client's loop must keep reading while the server writes,
        # as on a real display (a blocked loop makes the server drop it as too slow).
        await asyncio.to_thread(write_all)
        last = f"n{events - 1}"
        await until(lambda: any(vt.task.notes == last for vt in e.store.view().tasks.values()), 300)
        gc.collect()
        after = psutil.Process().memory_info().rss
        return {"rss_before_mib": before / 2**20, "rss_after_mib": after / 2**20,
                "events": count}  # fmt: skip
    finally:
        await close([e])


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--actions", type=int, default=1000)
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--outage", type=float, default=10.0)
    ap.add_argument("--smoke", action="store_true", help="a few seconds: every measure, tiny")
    ap.add_argument("--db-url", default=None, help="use this Postgres instead of the embedded one")
    args = ap.parse_args()
    sizes = (2, 10)  # clients per latency run
    if args.smoke:
        args.actions, args.events, args.outage = 10, 50, 1.0
        sizes = (2, 3)
    with tempfile.TemporaryDirectory() as d:
        stack = Stack(Path(d), args.db_url)
        await stack.start()
        try:
            results: dict[str, Any] = {}
            for n in sizes:
                results[f"latency_{n}"] = await latency(stack, n, args.actions)
                print(f"latency_{n}", results[f"latency_{n}"], flush=True)
            results["recovery"] = await recovery(stack, args.outage)
            print("recovery", results["recovery"], flush=True)
            results["rss"] = await rss_after_events(stack, args.events)
        finally:
            stack.stop()
    print(f"{'measure':<38}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'samples':>9}")
    for n in sizes:
        r = results[f"latency_{n}"]
        print(f"{f'store-to-store, {n} clients':<38}{r['p50']:>9.1f}{r['p95']:>9.1f}"
              f"{r['p99']:>9.1f}{r['max']:>9.1f}{r['n']:>9}")  # fmt: skip
    rec = results["recovery"]
    print(
        f"recovery after a {args.outage:.0f} s outage: live again {rec['live_s']:.2f} s, "
        f"board converged {rec['converged_s']:.2f} s after the network returned"
    )
    rss = results["rss"]
    print(
        f"client RSS: {rss['rss_before_mib']:.1f} MiB before, {rss['rss_after_mib']:.1f} MiB "
        f"after {rss['events']} events"
    )
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
