"""`caterking-server estimates rebuild`: recompute the learned prep estimates.

The server learns on every completion by itself; a rebuild is for after an import made
with triggers off, a restore, or a change of the method: it recomputes every sample from
the tasks' own timestamps and every estimate row from the samples
(``caterking_private.rebuild_prep_estimates``; docs/heuristics.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg


class RebuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class RebuildResult:
    samples: int
    exact_rows: int
    borrowed_rows: int
    rows_changed: int
    rows_deleted: int
    seconds: float

    def lines(self) -> list[str]:
        return [
            f"samples: {self.samples} done tasks with a real prep duration (claim to done, "
            "20 s to 8 h)",
            f"estimates: {self.exact_rows} from their own history, {self.borrowed_rows} "
            "borrowed (similar kinds, station or none)",
            f"rows: {self.rows_changed} written, {self.rows_deleted} removed "
            "(no longer needed), the rest already right",
            f"took {self.seconds:.1f} s",
        ]


def rebuild(dsn: str, tenant: str | None = None) -> RebuildResult:
    """Run the rebuild in one transaction; raises RebuildError with a one-line reason."""
    started = time.monotonic()
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise RebuildError(f"cannot connect to the database: {_one_line(exc)}") from exc
    with conn:
        try:
            row = conn.execute(
                "select caterking_private.rebuild_prep_estimates(%s::uuid)", (tenant,)
            ).fetchone()
        except (psycopg.errors.UndefinedFunction, psycopg.errors.InvalidSchemaName) as exc:
            raise RebuildError(
                "this database has no learned estimates yet: run `caterking-server migrate` first"
            ) from exc
        except psycopg.Error as exc:
            raise RebuildError(f"rebuild failed: {_one_line(exc)}") from exc
    assert row is not None
    got: dict[str, Any] = row[0]
    return RebuildResult(
        samples=int(got["samples"]),
        exact_rows=int(got["exact_rows"]),
        borrowed_rows=int(got["borrowed_rows"]),
        rows_changed=int(got["rows_changed"]),
        rows_deleted=int(got["rows_deleted"]),
        seconds=time.monotonic() - started,
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="estimates_action", metavar="ACTION")
    r = sub.add_parser(
        "rebuild",
        help="recompute every sample and estimate from the tasks' history",
        description="Recompute prep_samples and prep_estimates from the tasks' own "
        "timestamps (claimed_at to completed_at). Safe to repeat; boards see only the rows "
        "that change.",
    )
    r.add_argument(
        "--db-url",
        default=os.environ.get("CATERKING_DB_URL"),
        help="PostgreSQL URL (a hosted Supabase project's direct connection string works); "
        "env CATERKING_DB_URL",
    )
    r.add_argument("--tenant", metavar="UUID", help="only this tenant (default: all)")


def main(args: argparse.Namespace) -> int:
    if getattr(args, "estimates_action", None) != "rebuild":
        print("usage: caterking-server estimates rebuild --db-url URL", file=sys.stderr)
        return 2
    if not args.db_url:
        print("error: --db-url is required (or set CATERKING_DB_URL)", file=sys.stderr)
        return 2
    tenant = args.tenant
    if tenant is not None:
        try:
            tenant = str(uuid.UUID(tenant))
        except ValueError:
            print(f"error: --tenant {tenant!r} is not a UUID", file=sys.stderr)
            return 2
    try:
        result = rebuild(args.db_url, tenant)
    except RebuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    scope = f"tenant {tenant}" if tenant else "all tenants"
    print(f"rebuilt learned estimates for {scope}")
    for line in result.lines():
        print(line)
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
