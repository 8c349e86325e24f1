"""Property-based fuzzing of `caterking-server serve` with Hypothesis: Realtime frames
(vsn 1.0.0 and 2.0.0, text and binary), REST query strings, headers and bodies, Auth
requests. Strategies: tests/fuzzing.py (the suite runs a small sample of the same).

Per surface it prints the cases sent, the answers by status, 5xx answers (there must be
none), sockets that stopped answering (none), and the server's RSS before and after;
at the end the tracebacks and ERROR lines in the server's log (none). Auth limits are
off (`--rate-limit-* 0`) so the cases reach the handlers instead of a 429.

    .venv/bin/python bench/fuzz.py [--cases 10000] [--surfaces realtime-v1,realtime-v2,rest,auth]
        [--db-url URL]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.abuse import Server, make_display, seed  # noqa: E402
from bench.machine import machine  # noqa: E402
from caterking_server.embedded_pg import free_port  # noqa: E402
from tests.fuzzing import (  # noqa: E402
    Outcome,
    auth_cases,
    fresh_tokens,
    rest_cases,
    run_http,
    run_realtime,
)

SURFACES = ("realtime-v1", "realtime-v2", "rest", "auth")
NO_LIMITS = [
    "--rate-limit-sign-in=0",
    "--rate-limit-token-refresh=0",
    "--rate-limit-failed-sign-in=0",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10_000, help="generated cases per surface")
    ap.add_argument("--surfaces", default=",".join(SURFACES))
    ap.add_argument("--db-url", default=None, help="use this Postgres instead of the embedded one")
    ap.add_argument("--smoke", action="store_true", help="a few seconds: 30 cases per surface")
    args = ap.parse_args()
    if args.smoke:
        args.cases = 30
    surfaces = [s for s in args.surfaces.split(",") if s]
    if set(surfaces) - set(SURFACES):
        ap.error(f"unknown surfaces: {sorted(set(surfaces) - set(SURFACES))}")

    tmp = Path(tempfile.mkdtemp(prefix="caterking-fuzz-"))
    server = Server(tmp / "stack", free_port(), args.db_url, NO_LIMITS)
    rows: list[tuple[str, Outcome, float, float, float]] = []
    try:
        k = seed(server)
        toks = fresh_tokens(server.secret, k.tenant, k.kitchen, server.anon, server.service)
        users = []
        for _ in range(3):
            email = make_display(server, k, "fuzzing password")
            users.append(email)
        import httpx

        r = httpx.get(
            f"{server.url}/auth/v1/admin/users",
            headers={"apikey": server.service, "Authorization": f"Bearer {server.service}"},
        )
        user_ids = [u["id"] for u in r.json()["users"]]
        with psycopg.connect(server.db_url, autocommit=True) as conn:

            def change(n: int) -> None:
                if n % 50 == 0:  # give the fuzzed subscriptions changes to filter
                    cur = conn.execute(
                        "insert into tasks (tenant_id, kitchen_id, title, priority, quantity) "
                        "values (%s, %s, %s, %s, %s) returning id",
                        (k.tenant, k.kitchen, f"fuzz {n}", n % 3, n % 7),
                    )
                    row = cur.fetchone()
                    assert row is not None
                    conn.execute("update tasks set notes = %s where id = %s", (str(n), row[0]))
                    if n % 100 == 0:
                        conn.execute("delete from tasks where id = %s", (row[0],))

            for surface in surfaces:
                rss0 = server.rss_mb()
                t0 = time.monotonic()
                if surface.startswith("realtime"):
                    vsn = "2.0.0" if surface.endswith("v2") else "1.0.0"
                    out = run_realtime(
                        server.url, server.anon, toks, k.kitchen, vsn, args.cases, between=change
                    )
                elif surface == "rest":
                    out = run_http(server.url, rest_cases(toks), args.cases)
                else:
                    out = run_http(server.url, auth_cases(toks, user_ids), args.cases)
                took = time.monotonic() - t0
                rows.append((surface, out, took, rss0, server.rss_mb()))
                print(
                    f"{surface}: {out.cases} cases in {took:.0f} s; statuses "
                    f"{dict(sorted(out.statuses.items()))}; 5xx {len(out.server_errors)}; "
                    f"dead sockets {len(out.dead_sockets)}; closed by server "
                    f"{out.closed_by_server}; unsendable {out.unsendable}; RSS "
                    f"{rows[-1][3]:.0f} → {rows[-1][4]:.0f} MB",
                    flush=True,
                )
                if out.seen:
                    print(f"   server sent: {dict(out.seen)}", flush=True)
                for line in (out.server_errors + out.dead_sockets)[:5]:
                    print(f"   ! {line[:300]}", flush=True)
    finally:
        server.stop()
        log = server.log_path.read_text(errors="replace")
        shutil.rmtree(tmp, ignore_errors=True)
    tracebacks = log.count("Traceback (most recent call last)")
    errors = sum(1 for line in log.splitlines() if line.startswith(("ERROR", "CRITICAL")))
    print(f"\nmachine: {machine()}; server log: {tracebacks} tracebacks, {errors} ERROR lines")
    if tracebacks or errors:
        print(log[-4000:])
    bad: list[Any] = [r for r in rows if not r[1].ok()]
    return 1 if bad or tracebacks or errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
