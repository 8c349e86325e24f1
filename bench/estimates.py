"""Learned prep estimates: how good, and what they cost, on a real embedded PostgreSQL.

1. Accuracy. Simulates kitchen days (catalogue jobs with varying quantities, titles
   written in several ways, chefs of different speeds, noise, interruptions) against the
   real migrations. Admin writes the rows directly (the server learns from any path to
   done; times days in the past cannot go through the actions, whose acted time is
   clamped to 24 h). At every claim it asks ``estimate_for`` as a device of the tenant
   (the figures as they stood then) and compares four estimators with the duration the
   chef then took: this server's, the station's median, the exact title's median and the
   global median (each baseline from all completions before the claim). The similar jobs
   of the catalogue are held back until the last day: "unseen" titles.
2. Cost. A second tenant with --samples samples over --kinds kinds (5 stations, open
   tasks of new kinds at each): complete_task round trips with the learning triggers on
   and off (interleaved blocks), and estimate_for for known and never-seen titles.

    .venv/bin/python bench/estimates.py            # 5 days, 100,000 samples, 10,000 kinds
    .venv/bin/python bench/estimates.py --smoke    # a few seconds: the same code, small

``--db-url URL`` uses that (empty or migrated) database instead of starting a server.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import random
import sys
import tempfile
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import machine  # noqa: E402
from caterking_schema.migrate import migrate  # noqa: E402
from caterking_server.embedded_pg import EmbeddedPostgres  # noqa: E402
from caterking_server.kitchen_catalogue import (  # noqa: E402
    SIMILAR_JOBS,
    PrepJob,
    chef_speed,
    draw_job,
    prep_minutes,
)

DAY0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # a Monday, 06:00
LEARN_TRIGGERS = ("tasks_learn_insert", "tasks_learn_update", "tasks_learn_delete")


@dataclass(frozen=True)
class Config:
    days: int = 5
    per_day: int = 420
    chefs: int = 12
    held_out_share: float = 0.3  # share of similar (held-out) jobs on the last day
    samples: int = 100_000
    kinds: int = 10_000
    completions: int = 1_000  # timed per arm (learning on / off)
    lookups: int = 2_000  # timed estimate_for calls per kind of title
    seed: int = 1


SMOKE = Config(days=2, per_day=120, chefs=6, samples=3_000, kinds=300, completions=60, lookups=100)


def rid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --- estimators --------------------------------------------------------------------------


class Sorted:
    """Durations seen so far, kept sorted: median and 90th percentile at any moment."""

    def __init__(self) -> None:
        self.xs: list[float] = []

    def add(self, x: float) -> None:
        bisect.insort(self.xs, x)

    def __len__(self) -> int:
        return len(self.xs)

    def q(self, p: float) -> float:
        xs = self.xs
        pos = p * (len(xs) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class Score:
    n: int = 0
    abs_err: float = 0.0
    covered: int = 0

    def add(self, p50: float, p90: float, actual: float) -> None:
        self.n += 1
        self.abs_err += abs(p50 - actual)
        self.covered += actual <= p90

    @property
    def mae(self) -> float:
        return self.abs_err / self.n if self.n else float("nan")

    @property
    def coverage(self) -> float:
        return self.covered / self.n if self.n else float("nan")


@dataclass
class Scores:
    learned: Score = field(default_factory=Score)
    station: Score = field(default_factory=Score)
    title: Score = field(default_factory=Score)
    overall: Score = field(default_factory=Score)
    title_known: int = 0  # claims whose exact title had history (else: global median)
    basis: Counter[str] = field(default_factory=Counter)


# --- accuracy ----------------------------------------------------------------------------


@dataclass
class Kitchen:
    tenant: str
    kitchen: str
    staff: list[str]


def seed_kitchen(conn: psycopg.Connection[Any], rng: random.Random, chefs: int) -> Kitchen:
    k = Kitchen(rid(rng), rid(rng), [rid(rng) for _ in range(chefs)])
    conn.execute("insert into tenants (id, name) values (%s, 'Bench Catering')", (k.tenant,))
    conn.execute(
        "insert into kitchens (id, tenant_id, name) values (%s, %s, 'Main')", (k.kitchen, k.tenant)
    )
    for i, s in enumerate(k.staff):
        conn.execute(
            "insert into staff (id, tenant_id, kitchen_id, display_name, initials) "
            "values (%s, %s, %s, %s, %s)",
            (s, k.tenant, k.kitchen, f"Chef {i}", f"C{i}"),
        )
    return k


@contextmanager
def as_device(url: str, k: Kitchen) -> Iterator[psycopg.Connection[Any]]:
    """A connection that is a signed-in display of the kitchen, as PostgREST makes it."""
    claims = {
        "role": "authenticated",
        "sub": str(uuid.uuid4()),
        "app_metadata": {
            "tenant_id": k.tenant,
            "kitchen_id": k.kitchen,
            "device_kind": "display",
        },
    }
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, false)", (json.dumps(claims),))
        yield conn


def insert_tasks(
    conn: psycopg.Connection[Any],
    k: Kitchen,
    rows: Sequence[tuple[str, PrepJob]],
    created: datetime,
) -> None:
    """One statement, as an Admin import of the day's prep list would be."""
    conn.execute(
        "insert into tasks (id, tenant_id, kitchen_id, title, quantity, unit, station, "
        "created_at) select i, %s, %s, t, q, u, s, %s "
        "from unnest(%s::uuid[], %s::text[], %s::text[]::numeric[], %s::text[], %s::text[]) "
        "as x(i, t, q, u, s)",
        (
            k.tenant,
            k.kitchen,
            created,
            [i for i, _ in rows],
            [j.title for _, j in rows],
            [None if j.quantity is None else str(j.quantity) for _, j in rows],
            [j.unit for _, j in rows],
            [j.station for _, j in rows],
        ),
    )


@dataclass(order=True)
class Running:
    done_at: datetime
    seq: int
    task: str = field(compare=False)
    job: PrepJob = field(compare=False)
    staff: str = field(compare=False)
    minutes: float = field(compare=False)


class Days:
    """The simulated kitchen: chefs take the day's tasks in order, one at a time; every
    completion before a claim is written before it, so each claim sees the estimates of
    its moment."""

    def __init__(self, conn: psycopg.Connection[Any], cfg: Config) -> None:
        self.conn = conn
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.k = seed_kitchen(conn, self.rng, cfg.chefs)
        self.held_out = {t for jobs in SIMILAR_JOBS.values() for t, _ in jobs}
        self.scores = {"all": Scores(), "first day": Scores(), "unseen": Scores()}
        self.by_station: dict[str, Sorted] = {}
        self.by_title: dict[str, Sorted] = {}
        self.everything = Sorted()
        self.kind_done: Counter[str] = Counter()
        self.kinds: dict[str, str] = {}
        self.running: list[Running] = []
        self.completions = 0
        self.seq = 0

    def finish_until(self, t: datetime | None) -> None:
        while self.running and (t is None or self.running[0].done_at <= t):
            r = heapq.heappop(self.running)
            self.conn.execute(
                "update tasks set status = 'done', completed_by = %s, completed_at = %s "
                "where id = %s",
                (r.staff, r.done_at, r.task),
            )
            self.by_station.setdefault(r.job.station, Sorted()).add(r.minutes)
            self.by_title.setdefault(r.job.title, Sorted()).add(r.minutes)
            self.everything.add(r.minutes)
            self.kind_done[self.kinds[r.task]] += 1
            self.completions += 1

    def day(self, device: psycopg.Connection[Any], day: int) -> None:
        cfg, rng = self.cfg, self.rng
        start = DAY0 + timedelta(days=day)
        last = day == cfg.days - 1
        jobs = [
            (rid(rng), draw_job(rng, similar=cfg.held_out_share if last else 0.0))
            for _ in range(cfg.per_day)
        ]
        insert_tasks(self.conn, self.k, jobs, start - timedelta(hours=1))
        ids = [i for i, _ in jobs]
        for tid, kind in self.conn.execute(
            "select id, kind from tasks where id = any(%s::uuid[])", (ids,)
        ).fetchall():
            self.kinds[str(tid)] = kind
        queue = deque(jobs)
        free = [(start, i) for i in range(cfg.chefs)]
        while queue:
            t, chef = heapq.heappop(free)
            self.finish_until(t)
            tid, job = queue.popleft()
            staff = self.k.staff[chef]
            row = device.execute(
                "select public.estimate_for(%s, %s::numeric, %s, %s)",
                (job.title, job.quantity, job.unit, job.station),
            ).fetchone()
            assert row is not None
            self.conn.execute(
                "update tasks set status = 'claimed', claimed_by = %s, claimed_at = %s "
                "where id = %s",
                (staff, t, tid),
            )
            minutes = round(prep_minutes(job, chef_speed(staff), rng) * 60, 3) / 60  # as stored
            done_at = t + timedelta(minutes=minutes)
            self.seq += 1
            heapq.heappush(self.running, Running(done_at, self.seq, tid, job, staff, minutes))
            heapq.heappush(free, (done_at, chef))
            unseen = job.title in self.held_out and self.kind_done[self.kinds[tid]] < 3
            names = ["first day"] if day == 0 else ["all", *(["unseen"] if unseen else [])]
            for name in names:
                self.score(self.scores[name], row[0], job, minutes)
        self.finish_until(None)

    def score(self, sc: Scores, est: dict[str, Any], job: PrepJob, minutes: float) -> None:
        sc.basis[est["basis"]] += 1
        sc.learned.add(float(est["p50_minutes"]), float(est["p90_minutes"]), minutes)
        ev = self.everything
        station = self.by_station.get(job.station) or ev
        title = self.by_title.get(job.title)
        sc.title_known += bool(title)
        for score, hist in ((sc.overall, ev), (sc.station, station), (sc.title, title or ev)):
            if len(hist):
                score.add(hist.q(0.5), hist.q(0.9), minutes)
            else:
                score.add(0.0, 0.0, minutes)


def accuracy(url: str, cfg: Config) -> tuple[dict[str, Scores], dict[str, Any]]:
    """Simulate the days; score every claim. Scores for "all" (days 2..n), "first day",
    and "unseen" (held-out titles on the last day whose kind had < 3 samples)."""
    with psycopg.connect(url, autocommit=True) as conn:
        sim = Days(conn, cfg)
        started = time.perf_counter()
        with as_device(url, sim.k) as device:
            for day in range(cfg.days):
                sim.day(device, day)
        tenant = sim.k.tenant
        info = {
            "completions": sim.completions,
            "seconds": time.perf_counter() - started,
            "samples": conn.execute(
                "select count(*) from prep_samples where tenant_id = %s", (tenant,)
            ).fetchone()[0],  # type: ignore[index]
            "kinds": len(set(sim.kinds.values())),
            "rows": dict(
                conn.execute(
                    "select basis, count(*) from prep_estimates where tenant_id = %s group by 1",
                    (tenant,),
                ).fetchall()
            ),
        }
    return sim.scores, info


# --- cost ----------------------------------------------------------------------------------

VERBS = ("dice", "slice", "chop", "peel", "grate", "roast", "grill", "bake", "whip", "blend",
         "mince", "cube", "julienne", "braise", "poach", "steam", "sear", "toast", "glaze",
         "marinate")  # fmt: skip
THINGS = ("onion", "carrot", "leek", "garlic", "potato", "beetroot", "celeriac", "fennel",
          "pepper", "courgette", "aubergine", "mushroom", "shallot", "parsnip", "squash",
          "cabbage", "apple", "pear", "lemon", "orange", "chicken", "beef", "pork", "salmon",
          "cod")  # fmt: skip
WORDS = ("red", "white", "baby", "wild", "smoky", "fresh", "organic", "heritage", "spring",
         "winter", "summer", "golden", "purple", "sweet", "young", "giant", "mini", "local",
         "frozen", "pickled")  # fmt: skip
STATIONS = ("Prep", "Grill", "Pastry", "Cold", "Sauce")


def synthetic_titles(n: int, rng: random.Random) -> list[str]:
    combos = [f"{v} {w} {t}s" for v in VERBS for w in WORDS for t in THINGS]
    rng.shuffle(combos)
    return combos[:n]


@dataclass
class Timing:
    xs: list[float] = field(default_factory=list)

    def pct(self, p: float) -> float:
        ys = sorted(self.xs)
        return ys[min(len(ys) - 1, round(p * (len(ys) - 1)))] * 1000

    def line(self) -> str:
        return (
            f"p50 {self.pct(0.5):6.2f} ms  p95 {self.pct(0.95):6.2f} ms  "
            f"p99 {self.pct(0.99):6.2f} ms  (n={len(self.xs)})"
        )


def cost(url: str, cfg: Config) -> dict[str, Any]:
    rng = random.Random(cfg.seed + 1)
    with psycopg.connect(url, autocommit=True) as conn:
        k = seed_kitchen(conn, rng, 8)
        titles = synthetic_titles(cfg.kinds, rng)
        station_of = {t: STATIONS[THINGS.index(t.split()[-1][:-1]) % 5] for t in titles}
        # History: --samples done tasks over the kinds, imported with learning off and
        # learned by one rebuild (what an import of a kitchen's past would do).
        built = time.perf_counter()
        for name in LEARN_TRIGGERS:
            conn.execute(f"alter table tasks disable trigger {name}")
        per = max(1, cfg.samples // cfg.kinds)
        ids, tt, qs, ss, cl, co = [], [], [], [], [], []
        t0 = DAY0 - timedelta(days=30)
        for i in range(cfg.samples):
            title = titles[i % cfg.kinds] if i < per * cfg.kinds else rng.choice(titles)
            q = rng.choice([2, 4, 6, 8, 10, 12])
            minutes = (3 + 1.5 * q) * rng.lognormvariate(0, 0.2)
            end = t0 + timedelta(minutes=i * 0.5)
            ids.append(rid(rng))
            tt.append(title)
            qs.append(q)
            ss.append(station_of[title])
            cl.append(end - timedelta(minutes=minutes))
            co.append(end)
        conn.execute(
            "insert into tasks (id, tenant_id, kitchen_id, title, quantity, unit, station, "
            "status, claimed_by, completed_by, claimed_at, completed_at, created_at) "
            "select i, %s, %s, t, q, 'kg', s, 'done', %s, %s, c, d, c - interval '1 hour' "
            "from unnest(%s::uuid[], %s::text[], %s::numeric[], %s::text[], "
            "%s::timestamptz[], %s::timestamptz[]) as x(i, t, q, s, c, d)",
            (k.tenant, k.kitchen, k.staff[0], k.staff[0], ids, tt, qs, ss, cl, co),
        )
        for name in LEARN_TRIGGERS:
            conn.execute(f"alter table tasks enable trigger {name}")
        rebuilt = conn.execute(
            "select caterking_private.rebuild_prep_estimates(%s)", (k.tenant,)
        ).fetchone()[0]  # type: ignore[index]
        build_s = time.perf_counter() - built
        # Open work: tasks of new kinds at every station (rows borrowing from the rest).
        fresh = [f"{rng.choice(VERBS)} {rng.choice(WORDS)} {rng.choice(WORDS)} "
                 f"{rng.choice(THINGS)}s" for _ in range(150)]  # fmt: skip
        for title in fresh:
            conn.execute(
                "insert into tasks (tenant_id, kitchen_id, title, quantity, unit, station) "
                "values (%s, %s, %s, 5, 'kg', %s)",
                (k.tenant, k.kitchen, title, rng.choice(STATIONS)),
            )
        # Claimed tasks of known kinds, completed one by one through the RPC: half timed
        # by the client (a round trip), half inside the server (no client in the way).
        todo = []
        for _ in range(4 * cfg.completions):
            title = rng.choice(titles)
            tid = rid(rng)
            conn.execute(
                "insert into tasks (id, tenant_id, kitchen_id, title, quantity, unit, station, "
                "status, claimed_by, claimed_at, created_at) values (%s, %s, %s, %s, %s, 'kg', "
                "%s, 'claimed', %s, now() - interval '20 minutes', now() - interval '1 hour')",
                (tid, k.tenant, k.kitchen, title, rng.choice([2, 6, 10]), station_of[title],
                 k.staff[1]),
            )  # fmt: skip
            todo.append(tid)
        on, off, s_on, s_off = Timing(), Timing(), Timing(), Timing()
        call = (
            "select public.complete_task(p_task_id => %s, p_staff_id => %s, p_op_id => %s, "
            "p_device => 'bench')"
        )
        conn.execute("create temp table bench_times (s float8)")
        conn.execute("grant all on bench_times to service_role")
        block = 25
        for n, b in enumerate(range(0, len(todo), block)):
            learning = n % 2 == 0
            in_server = n % 4 >= 2
            conn.execute("reset role")
            for name in LEARN_TRIGGERS:
                conn.execute(
                    f"alter table tasks {'enable' if learning else 'disable'} trigger {name}"
                )
            conn.execute("set role service_role")
            conn.execute(
                "select set_config('request.jwt.claims', '{\"role\":\"service_role\"}', false)"
            )
            ids = todo[b : b + block]
            if in_server:
                conn.execute("truncate bench_times")
                conn.execute(
                    SERVER_LOOP.format(ids=", ".join(f"'{i}'" for i in ids), staff=k.staff[1])
                )
                got = [r[0] for r in conn.execute("select s from bench_times").fetchall()]
                (s_on if learning else s_off).xs.extend(got)
                continue
            for tid in ids:
                t = time.perf_counter()
                r = conn.execute(call, (tid, k.staff[1], str(uuid.uuid4()))).fetchone()
                (on if learning else off).xs.append(time.perf_counter() - t)
                assert r is not None and r[0]["outcome"] == "applied", r
        conn.execute("reset role")
        for name in LEARN_TRIGGERS:
            conn.execute(f"alter table tasks enable trigger {name}")
        samples = conn.execute(
            "select count(*) from prep_samples where tenant_id = %s", (k.tenant,)
        ).fetchone()[0]  # type: ignore[index]
        exact = conn.execute(
            "select count(*) from prep_estimates where tenant_id = %s and basis = 'exact'",
            (k.tenant,),
        ).fetchone()[0]  # type: ignore[index]
    known, unseen = Timing(), Timing()
    with as_device(url, k) as device:
        q = "select public.estimate_for(%s, %s::numeric, 'kg', %s)"
        for i in range(50):  # warm the caches and plans
            device.execute(q, (titles[i], 5, station_of[titles[i]]))
        for _ in range(cfg.lookups):
            title = rng.choice(titles)
            t = time.perf_counter()
            device.execute(q, (title, 5, station_of[title])).fetchone()
            known.xs.append(time.perf_counter() - t)
            new = (
                f"{rng.choice(WORDS)} {rng.choice(VERBS)} {rng.choice(WORDS)} "
                f"{rng.choice(THINGS)} {rng.choice(['tray', 'batch', 'mix'])}"
            )
            t = time.perf_counter()
            e = device.execute(q, (new, 5, rng.choice(STATIONS))).fetchone()
            unseen.xs.append(time.perf_counter() - t)
            assert e is not None
    return {
        "samples": samples,
        "exact kinds": exact,
        "build seconds": build_s,
        "rebuild": rebuilt,
        "complete, learning on": on,
        "complete, learning off": off,
        "complete in the server, learning on": s_on,
        "complete in the server, learning off": s_off,
        "estimate_for, known kind": known,
        "estimate_for, never-seen title": unseen,
    }


# Completions timed inside the server, one statement each, as the RPC runs them. The ids
# are this script's own uuids.
SERVER_LOOP = """
do $$
declare
  i uuid;
  t0 timestamptz;
  r jsonb;
begin
  foreach i in array array[{ids}]::uuid[] loop
    t0 := clock_timestamp();
    r := public.complete_task(i, '{staff}'::uuid, gen_random_uuid(), 'bench');
    insert into bench_times values (extract(epoch from clock_timestamp() - t0));
    if r ->> 'outcome' <> 'applied' then
      raise exception 'not applied: %', r;
    end if;
  end loop;
end
$$
"""


# --- report --------------------------------------------------------------------------------


def report(scores: dict[str, Scores], info: dict[str, Any], costs: dict[str, Any], cfg: Config,
           pg_version: str) -> list[str]:  # fmt: skip
    out = [f"machine: {machine()}; {pg_version}"]
    if info:
        out += [
            f"kitchen: {cfg.days} days x {cfg.per_day} tasks, {cfg.chefs} chefs, seed "
            f"{cfg.seed}: {info['completions']} completions, {info['kinds']} kinds, "
            f"{info['samples']} samples ({info['seconds']:.1f} s); rows by basis at the end: "
            f"{info['rows']}",
            "",
        ]
    for name in scores:
        sc = scores[name]
        if not sc.learned.n:
            continue
        label = {
            "all": f"days 2-{cfg.days}, every claim",
            "unseen": "held-out titles on the last day (their kind had < 3 samples)",
            "first day": "day 1 (cold start)",
        }[name]
        out.append(f"{label}: {sc.learned.n} claims; learned basis {dict(sc.basis)}")
        out.append("  estimator             MAE (min)   vs station   p90 covers")
        base = sc.station.mae
        for what, s in (
            ("learned (estimate_for)", sc.learned),
            ("station median", sc.station),
            ("exact-title median", sc.title),
            ("global median", sc.overall),
        ):
            out.append(
                f"  {what:22} {s.mae:9.2f}   {100 * (s.mae - base) / base:+9.0f} %"
                f"   {100 * s.coverage:8.1f} %"
            )
        out.append(
            f"  (exact-title median had the title's own history for {sc.title_known} of "
            f"{sc.learned.n} claims; otherwise it used the global median)"
        )
        out.append("")
    if not costs:
        return out
    on, off = costs["complete, learning on"], costs["complete, learning off"]
    out.append(
        f"cost tenant: {costs['samples']} samples, {costs['exact kinds']} kinds with exact "
        f"estimates (built and rebuilt in {costs['build seconds']:.1f} s: {costs['rebuild']})"
    )
    for name in (
        "complete, learning on",
        "complete, learning off",
        "complete in the server, learning on",
        "complete in the server, learning off",
        "estimate_for, known kind",
        "estimate_for, never-seen title",
    ):
        out.append(f"  {name:37} {costs[name].line()}")
    s_on, s_off = (
        costs["complete in the server, learning on"],
        costs["complete in the server, learning off"],
    )
    for what, a, b in (("round trip", on, off), ("in the server", s_on, s_off)):
        out.append(
            f"  learning adds ({what}): p50 {a.pct(0.5) - b.pct(0.5):+.2f} ms, "
            f"p99 {a.pct(0.99) - b.pct(0.99):+.2f} ms per completion"
        )
    return out


def run(url: str, cfg: Config, only: str | None = None) -> list[str]:
    scores, info = accuracy(url, cfg) if only != "cost" else ({}, {})
    costs = cost(url, cfg) if only != "accuracy" else {}
    with psycopg.connect(url) as conn:
        version = conn.execute("select version()").fetchone()[0]  # type: ignore[index]
    return report(scores, info, costs, cfg, " ".join(str(version).split()[:2]))


def main(argv: Sequence[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--smoke", action="store_true", help="small and quick (a few seconds)")
    ap.add_argument("--days", type=int)
    ap.add_argument("--per-day", type=int)
    ap.add_argument("--samples", type=int)
    ap.add_argument("--kinds", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--db-url", help="an empty or migrated database (default: start one)")
    ap.add_argument("--only", choices=["accuracy", "cost"], help="run one part only")
    args = ap.parse_args(argv)
    cfg = SMOKE if args.smoke else Config()
    changes = {
        name: getattr(args, name)
        for name in ("days", "per_day", "samples", "kinds", "seed")
        if getattr(args, name) is not None
    }
    cfg = Config(**{**cfg.__dict__, **changes})
    if args.db_url:
        migrate(args.db_url, with_base=True)
        lines = run(args.db_url, cfg, args.only)
    else:
        pg = EmbeddedPostgres(Path(tempfile.mkdtemp()) / "pg", fast_unsafe=True)
        pg.start()
        try:
            with psycopg.connect(pg.dsn, autocommit=True) as c:
                c.execute("create database bench")
            migrate(pg.url("bench"), with_base=True)
            lines = run(pg.url("bench"), cfg, args.only)
        finally:
            pg.stop()
    for line in lines:
        print(line)
    return lines


if __name__ == "__main__":
    main()
