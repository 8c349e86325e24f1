"""Render benchmark for the board (issue 5 §7), headless via App.run_test.

Measures: first paint with 1,000 tasks; CPU per single-card change at 100 and 1,000 tasks
(an in-place change, and a change that moves a card to another column); idle CPU over
--idle seconds; RSS. Prints a table.

    .venv/bin/python bench/render.py [--idle 60] [--reps 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psutil

from caterking_display.domain.clock import FixedClock, SystemClock
from caterking_display.domain.sync_status import ConnectionState, SyncStatus
from caterking_display.domain.task import Priority, Staff, Status, Task
from caterking_display.store import BoardStore
from caterking_display.ui.app import BoardApp
from caterking_display.ui.settings import UISettings

SIZE = (160, 45)
TENANT = str(uuid.uuid4())
KITCHEN = str(uuid.uuid4())
STATIONS = ("Veg", "Fish", "Grill", "Pastry", "Sauce")


def make_staff() -> list[Staff]:
    names = ["Ana Souza", "Ben Okafor", "Chloe Martin", "Dev Patel", "Eli Novak"]
    return [
        Staff(str(uuid.uuid4()), TENANT, KITCHEN, n, "".join(p[0] for p in n.split()), True)
        for n in names
    ]


def make_tasks(n: int, now: datetime, staff: list[Staff]) -> list[Task]:
    out = []
    for i in range(n):
        status = [Status.PENDING, Status.PENDING, Status.CLAIMED, Status.DONE][i % 4]
        who = staff[i % len(staff)].id if status is not Status.PENDING else None
        out.append(
            Task(
                id=str(uuid.uuid4()),
                tenant_id=TENANT,
                kitchen_id=KITCHEN,
                title=f"Prep item {i:04d}",
                station=STATIONS[i % len(STATIONS)],
                status=status,
                priority=Priority.RUSH if i % 37 == 0 else Priority.NORMAL,
                version=1,
                created_at=now - timedelta(minutes=200 - i % 200),
                updated_at=now - timedelta(minutes=5),
                quantity=Decimal(1 + i % 20),
                unit="kg",
                due_at=now + timedelta(minutes=(i % 120) - 20),
                claimed_by=who,
                claimed_at=now - timedelta(minutes=i % 30) if who else None,
                completed_by=who if status is Status.DONE else None,
                completed_at=now - timedelta(minutes=i % 25) if status is Status.DONE else None,
            )
        )
    return out


def build(n: int, clock: FixedClock | SystemClock) -> tuple[BoardApp, BoardStore, list[Task]]:
    staff = make_staff()
    tasks = make_tasks(n, clock.now(), staff)
    store = BoardStore(None, clock, "bench")
    store.replace_board(tasks, staff)
    status = SyncStatus(
        ConnectionState.LIVE, since=clock.now(), last_message_at=clock.now(), devices_online=2
    )
    settings = UISettings(kitchen_name="Bench Kitchen", timezone="UTC", stale_after_seconds=10**6)
    return BoardApp(store, clock, settings, status=status), store, tasks


async def first_paint(n: int) -> tuple[float, float]:
    """Wall and CPU seconds from construction to the first painted screen."""
    clock = FixedClock(datetime(2025, 3, 14, 11, 0, tzinfo=UTC))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    app, _, _ = build(n, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        return time.perf_counter() - wall0, time.process_time() - cpu0


async def per_change(n: int, reps: int) -> dict[str, float]:
    """Median CPU ms per single change (handled, laid out and painted)."""
    clock = FixedClock(datetime(2025, 3, 14, 11, 0, tzinfo=UTC))
    app, store, tasks = build(n, clock)
    pending = [t for t in tasks if t.status is Status.PENDING]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        async def measure(change: Callable[[int], None]) -> float:
            samples = []
            for i in range(reps):
                await pilot.pause()
                cpu0 = time.process_time()
                change(i)
                await pilot.pause()
                samples.append(time.process_time() - cpu0)
            return statistics.median(samples) * 1000

        baseline = await measure(lambda i: None)
        versions: dict[str, int] = {}

        def bump(task: Task, **changes: object) -> None:
            v = versions.get(task.id, task.version) + 1
            versions[task.id] = v
            store.apply_server_task(task.evolve(version=v, **changes))

        in_place = await measure(
            lambda i: bump(pending[i % len(pending)], title=f"Renamed item {i}")
        )
        staff_id = next(iter(store.view().staff))
        moves = await measure(
            lambda i: bump(
                pending[len(pending) - 1 - i],
                status=Status.CLAIMED,
                claimed_by=staff_id,
                claimed_at=clock.now(),
            )
        )
    return {"baseline": baseline, "in_place": in_place, "move": moves}


async def idle(n: int, seconds: float) -> tuple[float, int]:
    """CPU % of one core while the board sits idle (real clock ticking), and RSS bytes."""
    app, _, _ = build(n, SystemClock())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await asyncio.sleep(1)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        rss = psutil.Process().memory_info().rss
    return 100 * cpu / wall, rss


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=60, help="idle seconds (default 60)")
    parser.add_argument("--reps", type=int, default=30, help="changes per measurement")
    parser.add_argument("--smoke", action="store_true", help="a few seconds: every measure")
    args = parser.parse_args()
    if args.smoke:
        args.idle, args.reps = 1.0, 3

    rows: list[tuple[str, str]] = []
    wall, cpu = await first_paint(1000)
    rows.append(("first paint, 1,000 tasks (wall)", f"{wall * 1000:.0f} ms"))
    rows.append(("first paint, 1,000 tasks (CPU)", f"{cpu * 1000:.0f} ms"))
    for n in (100, 1000):
        r = await per_change(n, args.reps)
        rows.append((f"idle pilot round, {n} tasks (baseline)", f"{r['baseline']:.2f} ms"))
        rows.append((f"one card changes in place, {n} tasks", f"{r['in_place']:.2f} ms CPU"))
        rows.append((f"one card moves column, {n} tasks", f"{r['move']:.2f} ms CPU"))
    pct, rss = await idle(1000, args.idle)
    rows.append((f"idle CPU over {args.idle:.0f} s, 1,000 tasks", f"{pct:.2f} % of a core"))
    rows.append(("RSS after the idle run", f"{rss / 2**20:.0f} MiB"))

    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 16}")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print("(median per change; includes one pilot round-trip: see the baseline row)")


if __name__ == "__main__":
    asyncio.run(main())
