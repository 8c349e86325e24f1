"""`caterking-server serve`: run the Supabase-compatible local stack until stopped."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
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
    p.add_argument(
        "--broadcast-retention",
        type=_non_negative,
        default=os.environ.get("CATERKING_BROADCAST_RETENTION", "3600"),
        metavar="SECONDS",
        help="delete rows of realtime.messages (broadcasts from the database) older than "
        "this, every minute; 0 keeps them (default 3600; env CATERKING_BROADCAST_RETENTION)",
    )
    limits = p.add_argument_group(
        "limits (0 = off; each also from its environment variable; docs/security.md)"
    )
    for flag, env, default, what in (
        ("--rate-limit-sign-in", "CATERKING_RATE_LIMIT_SIGN_IN", 30,
         "password sign-ins per client address per 5 minutes"),
        ("--rate-limit-token-refresh", "CATERKING_RATE_LIMIT_TOKEN_REFRESH", 150,
         "token refreshes per client address per 5 minutes"),
        ("--rate-limit-failed-sign-in", "CATERKING_RATE_LIMIT_FAILED_SIGN_IN", 10,
         "wrong passwords per account per 5 minutes (then 429 for it from anywhere)"),
        ("--min-password-length", "CATERKING_MIN_PASSWORD_LENGTH", 10,
         "shortest password the admin API accepts"),
        ("--rate-limit-setup-info", "CATERKING_RATE_LIMIT_SETUP_INFO", 30,
         "answers of /kitchen/v1/setup per client address per 5 minutes"),
    ):  # fmt: skip
        limits.add_argument(
            flag,
            type=_non_negative,
            default=os.environ.get(env, str(default)),
            metavar="N",
            help=f"{what} (default {default}; env {env})",
        )
    p.add_argument(
        "--name",
        default=os.environ.get("CATERKING_SERVER_NAME"),
        help="the name displays show when they find this server (default: the host name; "
        "env CATERKING_SERVER_NAME)",
    )
    p.add_argument(
        "--cors-origins",
        default=os.environ.get("CATERKING_CORS_ORIGINS", "*"),
        metavar="LIST",
        help="browser origins allowed on /auth, /rest and /realtime: '*' or a "
        "comma-separated list of origins (default '*'; env CATERKING_CORS_ORIGINS)",
    )


def _non_negative(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {n}")
    return n


async def run(args: argparse.Namespace) -> int:
    from caterking_server.stack import LocalStack, StackInUse

    data_dir = args.data_dir or default_data_dir()
    if args.jwt_expiry <= 0:
        print("error: --jwt-expiry must be positive", file=sys.stderr)
        return 2
    from caterking_server.ratelimit import AuthLimits

    stack = LocalStack(
        data_dir,
        host=args.host,
        port=args.port,
        db_url=args.db_url,
        jwt_expiry=args.jwt_expiry,
        seed=args.seed,
        auth_limits=AuthLimits(
            sign_in_per_ip=args.rate_limit_sign_in,
            token_refresh_per_ip=args.rate_limit_token_refresh,
            failed_sign_in_per_account=args.rate_limit_failed_sign_in,
            min_password_length=args.min_password_length,
        ),
        cors_origins=tuple(o.strip() for o in args.cors_origins.split(",") if o.strip()),
        name=args.name,
        setup_info_per_ip=args.rate_limit_setup_info,
        broadcast_retention_s=args.broadcast_retention,
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
