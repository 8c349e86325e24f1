"""`caterking-server migrate`: apply the schema to a database."""

from __future__ import annotations

import argparse
import os
import sys

from caterking_schema.migrate import MigrationError, migrate


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db-url",
        default=os.environ.get("CATERKING_DB_URL"),
        help="PostgreSQL URL (a hosted Supabase project's direct connection string works); "
        "env CATERKING_DB_URL",
    )
    p.add_argument(
        "--with-supabase-base",
        action="store_true",
        help="first create what a Supabase project already has (roles, auth schema, "
        "publication) — for plain PostgreSQL only; safe to repeat",
    )


def main(args: argparse.Namespace) -> int:
    if not args.db_url:
        print("error: --db-url is required (or set CATERKING_DB_URL)", file=sys.stderr)
        return 2
    lines: list[str] = []
    try:
        migrate(args.db_url, with_base=args.with_supabase_base, log=lines)
    except MigrationError as exc:
        for line in lines:
            print(line)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0
