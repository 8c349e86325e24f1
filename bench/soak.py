"""Soak: an accelerated kitchen against the kitchen server for a long time, through
link cuts, token expiries and server restarts; at the end nothing is lost, doubled or
out of date, and nothing grew.

- `caterking-server serve` in its own process (embedded PostgreSQL on a temp data dir, or
  `--db-url`), access tokens of `--token-seconds` (60 s by default);
- the simulator (`caterking_server/simulate.py`: Admin adds tasks, chefs on phones claim
  and complete) at `--speed`× the normal rate, straight to the server;
- N boards: real sync engines (`SyncEngine` with a `BoardStore` each, each its own
  display account) in this process, behind the fault proxy (tests/faultproxy.py), whose
  chefs claim and complete tasks at random;
- the proxy drops every link every `--cut-every` seconds; the server is stopped and
  started again (same port, data and keys) twice, at a third and two thirds of the run.

At the end (the simulator and the chefs stop; every outbox must drain): every op id the
boards enqueued is in the ledger exactly once and the ledger holds no other op of theirs
(0 lost, 0 doubled); every board's tasks equal the database's (id, version, status);
RSS of the server and of the boards' process, sockets, asyncio tasks and channels are
reported at the start and at the end.

    .venv/bin/python bench/soak.py [--duration 7200] [--displays 10] [--speed 10]
        [--cut-every 180] [--token-seconds 60] [--db-url URL] [--smoke]

`--smoke`: 2 displays for about 12 s, one cut, both restarts (tests/bench runs it).
Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.abuse import Server  # noqa: E402
from caterking_display.backend import SupabaseBackend  # noqa: E402
from caterking_display.domain.actions import Action  # noqa: E402
from caterking_display.domain.board import BOARD_HISTORY  # noqa: E402
from caterking_display.domain.clock import SystemClock  # noqa: E402
from caterking_display.domain.sync_status import ConnectionState, Feed  # noqa: E402
from caterking_display.domain.task import Status  # noqa: E402
from caterking_display.store import BoardStore  # noqa: E402
from caterking_display.sync import SyncEngine, SyncSettings  # noqa: E402
from caterking_server.embedded_pg import free_port  # noqa: E402
from caterking_server.simulate import KitchenSimulator  # noqa: E402
from tests.faultproxy import FaultProxy  # noqa: E402
from tests.pg import Kitchen  # noqa: E402
from tests.stack import create_display  # noqa: E402

NORMAL_EVENTS_PER_MINUTE = 20.0  # `simulate`'s default pace
NORMAL_SPEED = 30.0  # kitchen minutes per real minute, `simulate`'s default


@dataclass
class Board:
    name: str
    engine: SyncEngine
    store: BoardStore
    enqueued: set[str] = field(default_factory=set)


@dataclass
class Sample:
    at: float
    server_rss: float
    boards_rss: float
    server_sockets: int
    board_sockets: int
    tasks: int
    channels: int
    held: int = 0  # kitchen tasks held by one board (its history window)

    def line(self) -> str:
        return (
            f"t={self.at:7.0f} s  server RSS {self.server_rss:6.1f} MiB  boards RSS "
            f"{self.boards_rss:6.1f} MiB  server sockets {self.server_sockets:3d}  board "
            f"sockets {self.board_sockets:3d}  asyncio tasks {self.tasks:4d}  "
            f"channels {self.channels:3d}  tasks on a board {self.held:5d}"
        )


def seed(db_url: str, n_staff: int = 6) -> Kitchen:
    tenant, kitchen = str(uuid.uuid4()), str(uuid.uuid4())
    staff = [str(uuid.uuid4()) for _ in range(n_staff)]
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("insert into tenants (id, name) values (%s, 'Soak')", (tenant,))
        c.execute(
            "insert into kitchens (id, tenant_id, name) values (%s, %s, 'Soak')", (kitchen, tenant)
        )
        for i, sid in enumerate(staff):
            c.execute(
                "insert into staff (id, tenant_id, kitchen_id, display_name, initials) "
                "values (%s, %s, %s, %s, %s)",
                (sid, tenant, kitchen, f"Chef {i}", f"C{i}"),
            )
    return Kitchen(tenant, kitchen, staff)


def established(
    proc: psutil.Process, *, local_port: int | None = None, remote_port: int | None = None
) -> int:
    try:
        conns = proc.net_connections("tcp")
    except psutil.Error:
        return -1
    return sum(
        1
        for c in conns
        if c.status == psutil.CONN_ESTABLISHED
        and (local_port is None or (c.laddr and c.laddr.port == local_port))
        and (remote_port is None or (c.raddr and c.raddr.port == remote_port))
    )


def sample(
    start: float, server: Server, port: int, proxy: FaultProxy, boards: list[Board]
) -> Sample:
    gc.collect()
    me = psutil.Process()
    channels = 0
    for b in boards:
        link = b.engine.supervisor.link
        client = getattr(link, "_client", None) if link is not None else None
        channels += len(getattr(client, "channels", {}) or {})
    return Sample(
        at=time.monotonic() - start,
        server_rss=server.rss_mb(),
        boards_rss=me.memory_info().rss / 2**20,
        server_sockets=established(server.ps, local_port=port),
        board_sockets=established(me, remote_port=proxy.port),
        tasks=len(asyncio.all_tasks()),
        channels=channels,
        held=max((len(b.store.view().tasks) for b in boards), default=0),
    )


async def chef(
    board: Board, staff: list[str], rng: random.Random, stop: asyncio.Event, mean_interval: float
) -> None:
    """A chef at one board: claims a pending card or completes a claimed one, at random."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.expovariate(1 / mean_interval))
        if stop.is_set():
            return
        view = board.store.view()
        pending = [
            t for t in view.tasks.values() if not t.pending and t.task.status is Status.PENDING
        ]
        claimed = [
            t for t in view.tasks.values() if not t.pending and t.task.status is Status.CLAIMED
        ]
        if claimed and (rng.random() < 0.5 or not pending):
            t = rng.choice(claimed).task
            assert t.claimed_by is not None
            op = board.store.enqueue(Action.COMPLETE, t.id, t.claimed_by)
        elif pending:
            t = rng.choice(pending).task
            op = board.store.enqueue(Action.CLAIM, t.id, rng.choice(staff))
        else:
            continue
        board.enqueued.add(op.op_id)


async def wait_for(cond: Any, within: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


def db_tasks(db_url: str, kitchen_id: str) -> dict[str, tuple[int, str]]:
    with psycopg.connect(db_url) as c:
        rows = c.execute(
            "select id::text, version, status from tasks where kitchen_id = %s", (kitchen_id,)
        ).fetchall()
    return {r[0]: (int(r[1]), str(r[2])) for r in rows}


def board_differences(board: Board, truth: dict[str, tuple[int, str]]) -> list[str]:
    """How the board's tasks differ from the database's (empty when converged)."""
    out = []
    view = board.store.view().tasks
    for tid, vt in view.items():
        want = truth.get(tid)
        got = (vt.task.version, vt.task.status.value)
        if want != got or vt.pending:
            out.append(f"{tid[:8]}: board {got}{' pending' if vt.pending else ''}, db {want}")
    for tid, (version, status) in truth.items():
        if status in ("pending", "claimed") and tid not in view:
            out.append(f"{tid[:8]}: open in the db (v{version}), missing on the board")
    return out


async def soak(args: argparse.Namespace) -> tuple[list[str], bool]:
    lines: list[str] = []

    def say(text: str) -> None:
        lines.append(text)
        print(text, flush=True)

    work = Path(tempfile.mkdtemp(prefix="caterking-soak-"))
    port = free_port()
    serve_args = [
        "--jwt-expiry",
        str(args.token_seconds),
        "--rate-limit-sign-in",
        "0",
        "--rate-limit-token-refresh",
        "0",
        "--rate-limit-failed-sign-in",
        "0",
    ]
    server = Server(work / "data", port, args.db_url, serve_args)
    proxy = await FaultProxy("127.0.0.1", port).start()
    boards: list[Board] = []
    sim: KitchenSimulator | None = None
    stop = asyncio.Event()
    workers: list[asyncio.Task[Any]] = []
    ok = True
    try:
        k = seed(server.db_url)
        clock = SystemClock()
        history = BOARD_HISTORY / args.speed
        for i in range(args.displays):
            name = f"soak-{i}"
            dev = create_display(server.url, server.service, k, device_name=name)
            store = BoardStore(work / f"{name}.sqlite3", clock, name)
            settings = SyncSettings(
                email=dev.email,
                password=dev.password,
                device=name,
                backoff_base=0.2,
                backoff_cap=2.0,
                rng=random.Random(f"{args.seed}-{i}"),
                feed=Feed(args.feed),
                # The kitchen runs `speed` times faster: so does the board's history window
                # (12 h of a real kitchen's finished tasks) and its clean-up.
                board_history=history,
                forget_every=300.0 / args.speed,
            )
            backend = SupabaseBackend(proxy.url, server.anon, board_history=history)
            engine = SyncEngine(store, backend, clock, settings)
            boards.append(Board(name, engine, store))
            engine.start()
        live = await wait_for(
            lambda: all(b.engine.status.state is ConnectionState.LIVE for b in boards), 60
        )
        if not live:
            raise SystemExit("the boards did not go live within 60 s")
        feeds = sorted(
            {str(b.engine.status.feed.value if b.engine.status.feed else None) for b in boards}
        )
        say(f"{len(boards)} boards live; change feed: {', '.join(feeds)}")
        sim = KitchenSimulator(
            server.url,
            server.service,
            k.kitchen_id,
            rng=random.Random(args.seed),
            speed=NORMAL_SPEED * args.speed,
        )
        per_minute = NORMAL_EVENTS_PER_MINUTE * args.speed
        workers.append(asyncio.create_task(sim.run(per_minute, stop, None)))
        for i, b in enumerate(boards):
            workers.append(
                asyncio.create_task(
                    chef(
                        b, k.staff, random.Random(f"chef-{args.seed}-{i}"), stop, args.chef_interval
                    )
                )
            )
        start = time.monotonic()
        say(
            f"soak: {args.displays} boards, simulator {per_minute:g} events/min at "
            f"{NORMAL_SPEED * args.speed:g}× kitchen time, tokens {args.token_seconds} s, "
            f"cut every {args.cut_every:g} s, {args.duration:g} s"
        )
        await asyncio.sleep(min(5.0, args.duration / 4))
        first = after_restart = sample(start, server, port, proxy, boards)
        samples = [first]
        say("start: " + first.line())

        restarts = sorted({args.duration / 3, 2 * args.duration / 3})
        next_cut = args.cut_every
        next_sample = args.sample_every
        cuts = 0
        while (now := time.monotonic() - start) < args.duration or restarts:
            if restarts and now >= restarts[0]:
                restarts.pop(0)
                t0 = time.monotonic()
                await asyncio.to_thread(server.stop)  # the boards' loop keeps running
                server = await asyncio.to_thread(
                    Server, work / "data", port, args.db_url, serve_args
                )
                down = time.monotonic() - t0
                back = await wait_for(
                    lambda: all(b.engine.status.state is ConnectionState.LIVE for b in boards),
                    60,
                )
                after_restart = sample(start, server, port, proxy, boards)
                say(
                    f"t={now:7.0f} s  server restarted ({down:.1f} s down; boards live again: "
                    f"{back}): " + after_restart.line()
                )
            if now >= next_cut:
                cuts += 1
                dropped = proxy.close_all()
                say(f"t={now:7.0f} s  link cut #{cuts}: {dropped} connections dropped")
                next_cut += args.cut_every
            if now >= next_sample:
                s = sample(start, server, port, proxy, boards)
                samples.append(s)
                say(s.line())
                next_sample += args.sample_every
            await asyncio.sleep(0.2)

        # Quiesce: no new actions; every outbox drains; every board converges.
        stop.set()
        await asyncio.gather(*workers, return_exceptions=True)
        workers.clear()
        drained = await wait_for(lambda: all(not b.store.pending_ops() for b in boards), 120)
        diffs: dict[str, list[str]] = {}

        def converged() -> bool:
            truth = db_tasks(server.db_url, k.kitchen_id)
            diffs.clear()
            for b in boards:
                d = board_differences(b, truth)
                if d:
                    diffs[b.name] = d
            return not diffs

        conv = await wait_for(converged, 60, step=0.5)
        end = sample(start, server, port, proxy, boards)
        say("end:   " + end.line())

        with psycopg.connect(server.db_url) as c:
            ledger = c.execute(
                "select o.op_id::text, o.device from task_ops o join tasks t on t.id = o.task_id "
                "where t.kitchen_id = %s",
                (k.kitchen_id,),
            ).fetchall()
        names = {b.name for b in boards}
        ours = [op for op, device in ledger if device in names]
        enqueued = set().union(*(b.enqueued for b in boards))
        failed = sum(len(b.store.failed_actions()) for b in boards)
        lost = enqueued - set(ours)
        doubled = len(ours) - len(set(ours)) + len(set(ours) - enqueued)
        outcomes: dict[str, int] = {}
        if sim is not None:
            outcomes = dict(sim.counts)
        say(
            f"boards enqueued {len(enqueued)} actions; ledger holds {len(ours)} of theirs "
            f"({failed} kept as not applied: lost to another chef); simulator: "
            + " ".join(f"{key}={v}" for key, v in sorted(outcomes.items()))
        )
        say(
            f"lost {len(lost)}, doubled {doubled}, outboxes drained: {drained}, "
            f"boards converged: {conv}, link cuts {cuts}, server restarts 2"
        )
        for name, d in sorted(diffs.items()):
            say(f"  {name} differs: {'; '.join(d[:5])}{' …' if len(d) > 5 else ''}")
        say(
            f"server RSS {first.server_rss:.1f} MiB at the start; {after_restart.server_rss:.1f} "
            f"-> {end.server_rss:.1f} MiB from the last restart to the end; boards RSS {first.boards_rss:.1f} -> "
            f"{end.boards_rss:.1f} MiB; server sockets {first.server_sockets} -> "
            f"{end.server_sockets}; board sockets {first.board_sockets} -> {end.board_sockets}; "
            f"asyncio tasks {first.tasks} -> {end.tasks}; channels {first.channels} -> "
            f"{end.channels}"
        )
        ok = (
            not lost
            and doubled == 0
            and drained
            and conv
            and end.channels == first.channels == len(boards)
            and end.tasks <= first.tasks + 2
            and end.board_sockets <= first.board_sockets + len(boards)
        )
        say("soak: PASS" if ok else "soak: FAIL")
    finally:
        stop.set()
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for b in boards:
            await b.engine.stop()
            await b.engine.backend.aclose()
            b.store.close()
        if sim is not None:
            await sim.close()
        await proxy.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return lines, ok


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=7200.0, help="seconds (default 2 h)")
    ap.add_argument("--displays", type=int, default=20)
    ap.add_argument(
        "--feed",
        choices=[f.value for f in Feed],
        default=Feed.AUTO.value,
        help="the boards' change feed (default auto: broadcast when the server has it)",
    )
    ap.add_argument(
        "--speed",
        type=float,
        default=10.0,
        help="times the simulator's normal pace and kitchen time (default 10)",
    )
    ap.add_argument(
        "--chef-interval",
        type=float,
        default=5.0,
        help="mean seconds between two actions of one board's chefs",
    )
    ap.add_argument("--cut-every", type=float, default=180.0)
    ap.add_argument("--sample-every", type=float, default=300.0)
    ap.add_argument("--token-seconds", type=int, default=60)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--db-url", help="serve on this (migrated) database instead")
    ap.add_argument("--smoke", action="store_true", help="about 12 s: 2 boards, 1 cut, 2 restarts")
    args = ap.parse_args(argv)
    if args.smoke:
        args.duration, args.displays, args.cut_every = 12.0, 2, 6.0
        args.sample_every, args.chef_interval = 1e9, 1.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.ERROR)
    # realtime-py logs every failed connection attempt: outages are on purpose here.
    logging.getLogger("realtime").setLevel(logging.CRITICAL)
    _lines, ok = asyncio.run(soak(parse(argv)))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
