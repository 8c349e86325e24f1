"""Cost of one Realtime-style RLS visibility check on `tasks`, as a display sees it.

Realtime runs `select exists(select 1 from tasks where id = $1)` under the subscriber's
role and claims for every change and subscriber; this measures that statement on a
fresh embedded PostgreSQL with the real migrations. Prints the mean round trip (Python
client included) and the server's execution time.

    .venv/bin/python bench/rls_check.py [--checks 3000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from caterking_schema.migrate import migrate
from caterking_server.embedded_pg import EmbeddedPostgres

QUERY = "select exists(select 1 from public.tasks where id = %s)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checks", type=int, default=3000)
    ap.add_argument("--db-url", default=None, help="a migrated database instead of a new one")
    ap.add_argument("--smoke", action="store_true", help="a second: 50 checks")
    args = ap.parse_args()
    if args.smoke:
        args.checks = 50
    pg: EmbeddedPostgres | None = None
    url = args.db_url
    if url is None:
        pg = EmbeddedPostgres(Path(tempfile.mkdtemp()) / "pg", fast_unsafe=True)
        pg.start()
    try:
        if pg is not None:
            with psycopg.connect(pg.dsn, autocommit=True) as c:
                c.execute("create database rls")
            url = pg.url("rls")
            migrate(url, with_base=True)
        assert url is not None
        with psycopg.connect(url, autocommit=True) as c:
            tenant, kitchen = str(uuid.uuid4()), str(uuid.uuid4())
            c.execute("insert into tenants (id, name) values (%s, 't')", (tenant,))
            c.execute(
                "insert into kitchens (id, tenant_id, name) values (%s, %s, 'k')",
                (kitchen, tenant),
            )
            ids = []
            for _ in range(50):
                row = c.execute(
                    "insert into tasks (tenant_id, kitchen_id, title) values (%s, %s, 'x') "
                    "returning id",
                    (tenant, kitchen),
                ).fetchone()
                assert row is not None
                ids.append(row[0])
            claims = {
                "role": "authenticated",
                "sub": str(uuid.uuid4()),
                "app_metadata": {
                    "tenant_id": tenant,
                    "kitchen_id": kitchen,
                    "device_kind": "display",
                },
            }
            with c.transaction():
                c.execute("set local role authenticated")
                c.execute(
                    "select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),)
                )
                for i in range(200):  # warm the plan cache
                    c.execute(QUERY, (ids[i % 50],), prepare=True)
                t0 = time.perf_counter()
                for i in range(args.checks):
                    c.execute(QUERY, (ids[i % 50],), prepare=True)
                per = (time.perf_counter() - t0) / args.checks
                plan = c.execute("explain analyze " + QUERY, (ids[0],)).fetchall()
        exec_line = next(r[0] for r in plan if "Execution Time" in r[0])
        print(f"checks: {args.checks}")
        print(f"round trip per check: {per * 1e6:.0f} us (client + server)")
        print(f"server {exec_line.strip().lower()}")
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    main()
