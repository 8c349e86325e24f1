"""Live estimates: a completion on board A → the changed estimate on board B.

Runs `caterking-server serve` as a subprocess (embedded Postgres, temp data dir), signs
in two sync engines as displays of one kitchen, and for each of N completions made by
engine A (claimed some minutes earlier, so each is a real prep duration) measures the
time until engine B's store holds the estimate row that the completion changed
(its sample count moves; each kind has three finished tasks first, so every completion
changes its kind's own estimate). Prints p50/p95/p99/max.

usage: python bench/estimates_live.py [--completions 200] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.e2e_latency import Stack, close, engine, pct, seed, until  # noqa: E402
from caterking_display.domain.actions import Action  # noqa: E402
from caterking_display.domain.sync_status import ConnectionState  # noqa: E402

KINDS = ["Dice onions", "Peel carrots", "Slice leeks", "Pick parsley", "Zest lemons"]


async def run(completions: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        await stack.start()
        try:
            kitchen, staff, _tasks, email, pw = seed(stack, 0)
            with psycopg.connect(stack.db, autocommit=True) as c:
                tenant = c.execute(
                    "select tenant_id from kitchens where id = %s", (kitchen,)
                ).fetchone()[0]  # type: ignore[index]
                # Three finished tasks of each kind first, so every completion measured
                # below changes that kind's own (exact) estimate row.
                for n, title in enumerate(KINDS * 3):
                    c.execute(
                        "insert into tasks (tenant_id, kitchen_id, title, station, status,"
                        " claimed_by, claimed_at, completed_by, completed_at, created_at)"
                        " values (%s, %s, %s, 'Veg', 'done', %s,"
                        " now() - make_interval(mins => %s), %s, now(), now() - interval '3 hours')",
                        (tenant, kitchen, title, staff, 6 + n, staff),
                    )
                ids = []
                for n in range(completions):
                    tid = str(uuid.uuid4())
                    ids.append(tid)
                    c.execute(
                        "insert into tasks (id, tenant_id, kitchen_id, title, station, status,"
                        " claimed_by, claimed_at, created_at) values (%s, %s, %s, %s, 'Veg',"
                        " 'claimed', %s, now() - make_interval(mins => %s),"
                        " now() - interval '2 hours')",
                        (tid, tenant, kitchen, KINDS[n % len(KINDS)], staff, 5 + n % 20),
                    )
            a = engine(stack.url, stack.anon, email, pw, "board-a")
            b = engine(stack.url, stack.anon, email, pw, "board-b")
            try:
                await until(lambda: all(e.status.state is ConnectionState.LIVE for e in (a, b)), 60)
                samples: list[float] = []
                for tid in ids:
                    task = a.store.confirmed(tid)
                    assert task is not None and task.kind is not None
                    key = (task.kind, task.station)
                    before = getattr(b.store.estimate(*key), "samples", -1)
                    t0 = time.perf_counter()
                    a.store.enqueue(Action.COMPLETE, tid, staff)
                    await until(
                        lambda k=key, s=before: getattr(b.store.estimate(*k), "samples", -1) != s,
                        10,
                    )
                    samples.append(time.perf_counter() - t0)
                return {
                    "n": len(samples),
                    "p50": pct(samples, 50),
                    "p95": pct(samples, 95),
                    "p99": pct(samples, 99),
                    "max": max(samples) * 1000,
                }
            finally:
                await close([a, b])
        finally:
            stack.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--completions", type=int, default=200)
    p.add_argument("--smoke", action="store_true", help="a few completions, seconds")
    args = p.parse_args()
    n = 5 if args.smoke else args.completions
    r = asyncio.run(run(n))
    print(
        f"completion on A → estimate on B, {r['n']:.0f} completions: p50 {r['p50']:.1f} ms,"
        f" p95 {r['p95']:.1f} ms, p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms"
    )


if __name__ == "__main__":
    main()
