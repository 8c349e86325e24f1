"""`caterking-server simulate`: a busy kitchen through the REST API, with the service key.

Admin adds realistic prep tasks (some rush; titles written in several ways, quantities
that vary), and virtual chefs on other devices claim and complete them through the same
RPCs the displays use, until stopped. Now and then Admin broadcasts an announcement on
the kitchen's private Realtime channel (``kitchen:<id>``, event ``announcement``, payload
``{"message": ...}``), which the boards show as a banner line.

Chefs take realistic, varied times (kitchen_catalogue: setup + minutes per unit, a speed
per chef, noise), and the server learns from them. Time is compressed by ``speed``
(kitchen minutes per real minute): a chef who needs 12 minutes claims with
``p_acted_at`` 12 x (1 - 1/speed) minutes in the past and finishes 12/speed minutes
later, so the server records 12 minutes between claim and done without anyone waiting
12 real minutes. Tasks are added as if written on the prep list hours ago
(``created_at``), since the server never stamps a claim before its task existed.
``speed=None`` (the library default) waits for nothing: the claim is stamped the whole
duration back and the task may be finished at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from caterking_display.config import read_env_file
from caterking_server.kitchen_catalogue import (
    BASE_TITLE,
    NOTES,
    NOTES_BY_TITLE,
    PREP_TIMES,
    SIMILAR_JOBS,
    PrepJob,
    allergens_for,
    chef_speed,
    draw_job,
    prep_minutes,
)

log = logging.getLogger(__name__)


class SimulatorError(RuntimeError):
    pass


ANNOUNCE_EVENT = "announcement"
DEFAULT_ANNOUNCE_EVERY = 25
DEFAULT_SPEED = 30.0  # kitchen minutes per real minute, on the command line
LISTED_BEFORE = timedelta(hours=5)  # added tasks are dated this far back (created_at)

# What an Admin actually tells a kitchen mid-service; "{...}" fields are filled at random.
ANNOUNCEMENTS: tuple[str, ...] = (
    "Table {table} is nut-free: label all canapés",
    "Table {table} has a coeliac guest: gluten-free bread only",
    "Henley wedding moved to {time}",
    "Service starts in {minutes} minutes",
    "Canapés go out in {minutes} minutes: plate up",
    "Barclays lunch: {covers} covers confirmed, up from {fewer}",
    "Delivery van leaves at {time}: box the cold starters",
    "Walk-in fridge door sticks: shut it properly",
    "Dishwasher down: hand-wash the hotel pans",
    "Fish delivery late: hold the sea bass, push the risotto",
    "Allergen check before every pass, please",
    "Head chef on the pass from {time}",
    "Vegan option for the Ashford party: {covers} portions",
    "Fire drill at {time}: finish what is on the stove first",
)


def make_announcement(rng: random.Random, now: datetime | None = None) -> str:
    """A realistic kitchen announcement, drawn from ``ANNOUNCEMENTS``."""
    now = now or datetime.now(UTC)
    later = now + timedelta(minutes=rng.choice([15, 30, 45, 60, 90]))
    later = later.replace(minute=later.minute // 15 * 15)
    covers = rng.randrange(40, 220, 5)
    return rng.choice(ANNOUNCEMENTS).format(
        table=rng.randint(1, 30),
        time=later.strftime("%H:%M"),
        minutes=rng.choice([5, 10, 15, 20, 30]),
        covers=covers,
        fewer=covers - rng.randrange(5, 30, 5),
    )


@dataclass
class Kitchen:
    tenant_id: str
    kitchen_id: str
    staff: list[str] = field(default_factory=list)


@dataclass
class WorkPlan:
    """A chef at work on a claimed task: when it is finished (server time, the stamp sent
    with the completion) and when the simulator sends it (its own monotonic clock)."""

    staff_id: str
    finish_at: datetime
    due: float


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class KitchenSimulator:
    """One Admin and a few virtual chefs, each acting through the public HTTP API."""

    def __init__(
        self,
        url: str,
        service_key: str,
        kitchen_id: str | None = None,
        *,
        rng: random.Random | None = None,
        target_open: int = 18,
        announce_every: int = 0,
        speed: float | None = None,
    ) -> None:
        """``announce_every``: about one step in that many is an announcement (0: never).
        ``speed``: kitchen minutes per real minute (None: nobody waits; see the module)."""
        if announce_every < 0:
            raise ValueError("announce_every must be 0 (never) or more")
        if speed is not None and speed < 1:
            raise ValueError("speed must be 1 (real time) or more")
        self.url = url.rstrip("/")
        self.rng = rng or random.Random()
        self.kitchen_id = kitchen_id
        self.target_open = target_open
        self.announce_every = announce_every
        self.speed = speed
        self.plans: dict[str, WorkPlan] = {}
        self._per_topic_broadcast = False  # the server lacks Supabase's batch route
        self._http = httpx.AsyncClient(
            base_url=f"{self.url}/rest/v1",
            headers={"apikey": service_key, "Authorization": f"Bearer {service_key}"},
            timeout=10,
        )
        self.kitchen: Kitchen | None = None
        self.counts: dict[str, int] = {}

    async def close(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, **params: str) -> list[dict[str, Any]]:
        r = await self._http.get(path, params=params)
        if r.status_code >= 400:
            raise SimulatorError(f"GET {path}: {r.status_code} {r.text[:200]}")
        data: list[dict[str, Any]] = r.json()
        return data

    async def load_kitchen(self) -> Kitchen:
        params = {"select": "id,tenant_id", "order": "created_at.asc", "limit": "1"}
        if self.kitchen_id:
            params["id"] = f"eq.{self.kitchen_id}"
        rows = await self._get("/kitchens", **params)
        if not rows:
            raise SimulatorError(
                "no kitchen found: seed one first (caterking-server serve --seed demo)"
            )
        k = Kitchen(rows[0]["tenant_id"], rows[0]["id"])
        staff = await self._get(
            "/staff", select="id", kitchen_id=f"eq.{k.kitchen_id}", active="is.true"
        )
        k.staff = [s["id"] for s in staff]
        if not k.staff:
            raise SimulatorError("the kitchen has no active staff to simulate")
        self.kitchen = k
        return k

    async def add_task(self, now: datetime, job: PrepJob | None = None) -> dict[str, Any]:
        assert self.kitchen is not None
        job = job or draw_job(self.rng)
        priority = self.rng.choices([0, 1, 2], weights=[75, 15, 10])[0]
        due = now + timedelta(minutes=self.rng.randint(5, 120))
        general_note = self.rng.choice(NOTES)
        row = {
            "tenant_id": self.kitchen.tenant_id,
            "kitchen_id": self.kitchen.kitchen_id,
            "title": job.title,
            "quantity": job.quantity,
            "unit": job.unit,
            "station": job.station,
            "notes": NOTES_BY_TITLE.get(job.title, general_note),
            "allergens": allergens_for(job.title),
            "priority": priority,
            "due_at": due.isoformat(),
            # On the prep list since the morning: claims may be dated back (see module).
            "created_at": (now - LISTED_BEFORE).isoformat(),
        }
        r = await self._http.post("/tasks", json=row, headers={"Prefer": "return=representation"})
        if r.status_code != 201:
            raise SimulatorError(f"adding a task failed: {r.status_code} {r.text[:200]}")
        self._count("added")
        created: dict[str, Any] = r.json()[0]
        return created

    async def act(
        self, action: str, task_id: str, staff_id: str, acted_at: datetime | None = None
    ) -> str:
        return (await self._act(action, task_id, staff_id, acted_at))[0]

    async def _act(
        self, action: str, task_id: str, staff_id: str, acted_at: datetime | None = None
    ) -> tuple[str, dict[str, Any] | None]:
        body: dict[str, Any] = {
            "p_task_id": task_id,
            "p_staff_id": staff_id,
            "p_op_id": str(uuid.uuid4()),
            "p_device": f"chef-phone-{staff_id[:4]}",
        }
        if acted_at is not None:
            body["p_acted_at"] = acted_at.isoformat()
        r = await self._http.post(f"/rpc/{action}_task", json=body)
        if r.status_code != 200:
            raise SimulatorError(f"{action} failed: {r.status_code} {r.text[:200]}")
        reply = r.json()
        outcome: str = reply["outcome"]
        self._count(f"{action}:{outcome}")
        task = reply.get("task")
        return outcome, task if isinstance(task, dict) else None

    def _wait(self, minutes: float) -> float:
        """Real seconds until a job of `minutes` kitchen minutes is finished."""
        return 0.0 if self.speed is None else minutes * 60.0 / self.speed

    async def claim(self, row: dict[str, Any], staff_id: str, now: datetime) -> str:
        """A chef starts a task: the claim is dated back so that the time the server
        records between claim and done is the chef's real time for the job."""
        minutes = prep_minutes(_job_of(row), chef_speed(staff_id), self.rng)
        backdate = timedelta(minutes=minutes) - timedelta(seconds=self._wait(minutes))
        outcome, task = await self._act("claim", row["id"], staff_id, now - backdate)
        claimed_at = _parse_time(task.get("claimed_at")) if task else None
        if outcome == "applied" and claimed_at is not None:
            loop = asyncio.get_running_loop()
            self.plans[row["id"]] = WorkPlan(
                staff_id,
                claimed_at + timedelta(minutes=minutes),
                loop.time() + self._wait(minutes),
            )
        return outcome

    def _plan_for(self, row: dict[str, Any], now: datetime) -> WorkPlan | None:
        """The plan for a claimed task, made on sight for one the simulator did not claim
        (claimed on a board, or before a restart)."""
        plan = self.plans.get(row["id"])
        if plan is not None and plan.staff_id == row.get("claimed_by"):
            return plan
        claimed_at = _parse_time(row.get("claimed_at"))
        staff = row.get("claimed_by")
        if claimed_at is None or not isinstance(staff, str):
            return None
        minutes = prep_minutes(_job_of(row), chef_speed(staff), self.rng)
        finish = claimed_at + timedelta(minutes=minutes)
        left = max(0.0, (finish - now).total_seconds() / 60.0)
        plan = WorkPlan(staff, finish, asyncio.get_running_loop().time() + self._wait(left))
        self.plans[row["id"]] = plan
        return plan

    async def announce(self, message: str | None = None, *, kitchen_id: str | None = None) -> str:
        """Broadcast an announcement on ``kitchen:<id>`` as Admin does (service key, REST).

        Sends Supabase's documented REST broadcast, ``POST /realtime/v1/api/broadcast``
        with ``{"messages": [...]}``. A server without that route (404/405; e.g. the local
        stack) gets the per-topic form realtime-py's ``http_send`` uses instead:
        ``POST /realtime/v1/api/broadcast/<topic>/events/<event>?private=true``.
        Both answer 202; after one 404/405 only the per-topic form is tried.
        ``kitchen_id`` defaults to the simulated kitchen.
        """
        if kitchen_id is None:
            if self.kitchen is None:
                await self.load_kitchen()
            assert self.kitchen is not None
            kitchen_id = self.kitchen.kitchen_id
        text = message if message is not None else make_announcement(self.rng)
        topic = f"kitchen:{kitchen_id}"
        payload = {"message": text}
        base = f"{self.url}/realtime/v1/api/broadcast"
        body = {
            "messages": [
                {"topic": topic, "event": ANNOUNCE_EVENT, "payload": payload, "private": True}
            ]
        }
        if not self._per_topic_broadcast:
            r = await self._http.post(base, json=body)
            self._per_topic_broadcast = r.status_code in (404, 405)
        if self._per_topic_broadcast:
            r = await self._http.post(
                f"{base}/{quote(topic, safe='')}/events/{quote(ANNOUNCE_EVENT, safe='')}",
                params={"private": "true"},
                json=payload,
            )
        if r.status_code != 202:
            raise SimulatorError(f"announcement failed: {r.status_code} {r.text[:200]}")
        self._count("announce")
        return text

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    async def step(self, now: datetime | None = None) -> str:
        """One kitchen event; returns what happened."""
        if self.kitchen is None:
            await self.load_kitchen()
        assert self.kitchen is not None
        given = now
        now = now or datetime.now(UTC)
        if self.announce_every and self.rng.random() < 1 / self.announce_every:
            return f"admin announced {await self.announce(make_announcement(self.rng, now))!r}"
        open_rows = await self._get(
            "/tasks",
            select="id,status,claimed_by,claimed_at,title,quantity,unit,station",
            kitchen_id=f"eq.{self.kitchen.kitchen_id}",
            status="in.(pending,claimed)",
        )
        pending = [r for r in open_rows if r["status"] == "pending"]
        claimed = [r for r in open_rows if r["status"] == "claimed"]
        open_ids = {r["id"] for r in open_rows}
        self.plans = {i: p for i, p in self.plans.items() if i in open_ids}
        clock = asyncio.get_running_loop().time()
        finished = [
            (plan.due, r["id"], plan)
            for r in claimed
            if (plan := self._plan_for(r, now)) is not None and plan.due <= clock
        ]
        busy = {r.get("claimed_by") for r in claimed}
        free = [s for s in self.kitchen.staff if s not in busy]
        roll = self.rng.random()
        if len(open_rows) < self.target_open and (roll < 0.4 or not open_rows):
            t = await self.add_task(now)
            return f"admin added {t['title']!r}"
        if finished and (roll < 0.7 or not pending or not free):
            _, task_id, plan = min(finished, key=lambda f: (f[0], f[1]))
            # Its due time passed on the loop's clock after the read above: the wall clock
            # is read again (not `now`, taken before the read), so the finish is on time.
            at = min(plan.finish_at, given or datetime.now(UTC))
            outcome = await self.act("complete", task_id, plan.staff_id, at)
            self.plans.pop(task_id, None)
            return f"complete: {outcome}"
        if pending and free:
            r = self.rng.choice(pending)
            return f"claim: {await self.claim(r, self.rng.choice(free), now)}"
        if len(open_rows) < self.target_open:
            t = await self.add_task(now)
            return f"admin added {t['title']!r}"
        return "chefs at work"

    async def run(self, per_minute: float, stop: asyncio.Event, duration: float | None) -> None:
        loop = asyncio.get_running_loop()
        end = None if duration is None else loop.time() + duration
        interval = 60.0 / per_minute
        while not stop.is_set() and (end is None or loop.time() < end):
            try:
                what = await self.step()
                log.info("%s", what)
            except (httpx.HTTPError, SimulatorError) as exc:
                log.warning("simulator step failed: %s", exc)
            # Poisson-ish pacing: busy kitchens are bursty.
            wait = self.rng.expovariate(1.0 / interval)
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(wait, interval * 4))
            except TimeoutError:
                pass


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get("SUPABASE_URL"), help="env SUPABASE_URL")
    p.add_argument(
        "--service-key",
        default=os.environ.get("SUPABASE_SERVICE_ROLE_KEY"),
        help="service_role key (env SUPABASE_SERVICE_ROLE_KEY)",
    )
    p.add_argument("--stack-env", type=Path, help="read URL and keys from a stack.env file")
    p.add_argument("--kitchen-id", default=os.environ.get("CATERKING_KITCHEN_ID"))
    p.add_argument("--rate", type=float, default=20.0, help="events per minute (default 20)")
    p.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_SPEED,
        metavar="X",
        help="kitchen minutes per real minute: a 12-minute job is done 12/X real minutes "
        f"after its claim and the server records 12 minutes (default {DEFAULT_SPEED:g}; "
        "1 = real time)",
    )
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument(
        "--announce-every",
        type=int,
        default=DEFAULT_ANNOUNCE_EVERY,
        metavar="N",
        help="about one step in N is an Admin announcement to the boards "
        f"(default {DEFAULT_ANNOUNCE_EVERY}; 0 = never)",
    )
    p.add_argument("--seed", type=int, help="random seed, for a repeatable kitchen")
    p.add_argument("-q", "--quiet", action="store_true")


def main(args: argparse.Namespace) -> int:
    url, key = args.url, args.service_key
    if args.stack_env:
        try:
            env = read_env_file(args.stack_env)
        except OSError as exc:
            print(f"error: --stack-env {args.stack_env}: {exc.strerror}", file=sys.stderr)
            return 2
        url = url or env.get("SUPABASE_URL")
        key = key or env.get("SUPABASE_SERVICE_ROLE_KEY")
    if not url or not key:
        print(
            "error: need --url and --service-key (or SUPABASE_URL and "
            "SUPABASE_SERVICE_ROLE_KEY, or --stack-env)",
            file=sys.stderr,
        )
        return 2
    if args.rate <= 0:
        print("error: --rate must be above 0", file=sys.stderr)
        return 2
    if args.announce_every < 0:
        print("error: --announce-every must be 0 (never) or more", file=sys.stderr)
        return 2
    if args.speed < 1:
        print("error: --speed must be 1 (real time) or more", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s"
    )
    sim = KitchenSimulator(
        url,
        key,
        args.kitchen_id,
        rng=random.Random(args.seed),
        announce_every=args.announce_every,
        speed=args.speed,
    )

    async def go() -> None:
        stop = asyncio.Event()
        try:
            await sim.load_kitchen()
            await sim.run(args.rate, stop, args.duration)
        finally:
            await sim.close()

    try:
        asyncio.run(go())
    except SimulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"error: cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    print(" ".join(f"{k}={v}" for k, v in sorted(sim.counts.items())) or "nothing happened")
    return 0


def _job_of(row: dict[str, Any]) -> PrepJob:
    """The catalogue job a task row is (or resembles), for timing it; a title the
    catalogue does not know is timed like a mid-sized job."""
    title = str(row.get("title") or "")
    base = BASE_TITLE.get(title)
    if base is None:
        base = next((b for b in PREP_TIMES if _same_job(b, title)), "Dice onions")
    factor = dict(SIMILAR_JOBS.get(base, ())).get(title, 1.0)
    quantity = row.get("quantity")
    try:
        q = float(quantity) if quantity is not None else None
    except (TypeError, ValueError):
        q = None
    return PrepJob(title, base, q, row.get("unit"), str(row.get("station") or ""), factor)


def _same_job(base: str, title: str) -> bool:
    """'Roast 24 chicken thighs' is the catalogue's 'Roast 40 chicken thighs'."""
    return _without_numbers(base) == _without_numbers(title)


def _without_numbers(title: str) -> str:
    return " ".join(w for w in title.split() if not w.replace(".", "").isdigit())
