"""`caterking-display serve`: run the Supabase-compatible local stack until stopped."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

DEFAULT_PORT = 54321


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("caterking-display")) / "stack"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT})"
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where Postgres data, keys and stack.env live (default: user data dir)",
    )
    p.add_argument("--db-url", default=None, help="use this Postgres instead of the embedded one")
    p.add_argument("--jwt-expiry", type=int, default=3600, help="access token lifetime in seconds")
    p.add_argument("--seed", choices=["demo"], default=None, help="create demo data")


async def run(args: argparse.Namespace) -> int:
    from caterking_display.localstack.stack import LocalStack, StackInUse

    data_dir = args.data_dir or default_data_dir()
    if args.jwt_expiry <= 0:
        print("error: --jwt-expiry must be positive", file=sys.stderr)
        return 2
    stack = LocalStack(
        data_dir,
        host=args.host,
        port=args.port,
        db_url=args.db_url,
        jwt_expiry=args.jwt_expiry,
        seed=args.seed,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGHUP too: serve started in a terminal that is then closed must stop Postgres.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await stack.start()
        except StackInUse as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"error: cannot start the local stack: {exc}", file=sys.stderr)
            return 1
        # Only what every board is given anyway; stdout may end up in a journal or a
        # log file others can read. The secrets are in stack.env, readable by this user.
        print(f"SUPABASE_URL={stack.url}")
        print(f"SUPABASE_ANON_KEY={stack.anon_key}")
        if stack.demo_account is not None:
            print(f"DEMO_DISPLAY_EMAIL={stack.demo_account[0]}")
        print(
            f"# env written to {stack.data_dir / 'stack.env'} (readable by you only): the "
            "service role key, the database URL"
            + (" and the demo display's password" if stack.demo_account else "")
            + " are there, not here; Ctrl+C to stop",
            flush=True,
        )
        await stop.wait()
        print("stopping…", file=sys.stderr, flush=True)
        return 0
    finally:
        await stack.stop()


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(run(args))
