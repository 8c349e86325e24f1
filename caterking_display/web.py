"""`caterking-display web`: the board in a browser, for station tablets.

Each browser tab gets its own board process (textual-serve runs `run --web-session` for
every connection). A session shows nothing of the kitchen until someone signs in with a
display account; its store and outbox then live on this host, under the data dir, keyed
by that account, so a reload or a closed tab loses nothing: signing in again on any
tablet brings the same board back and sends what was waiting.

It listens on 127.0.0.1 unless told otherwise. Serving the kitchen's network is an
explicit choice (`--lan`): anyone on that network can then open the sign-in page (not
the board), so use it only on a network the kitchen controls.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys
from pathlib import Path
from typing import Any

from caterking_display.app_main import add_arguments as add_run_arguments
from caterking_display.app_main import flags_from
from caterking_display.config import ConfigError, merged_values

DEFAULT_PORT = 8000
DEFAULT_FONT_SIZE = 20  # px: readable at arm's length on a 10" tablet (about 90 × 30 cells)
MAX_SESSIONS = 8
ASSETS = Path(__file__).parent / "web_assets"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    p.add_argument(
        "--lan",
        action="store_true",
        help="allow listening on a non-loopback address (the kitchen's network)",
    )
    p.add_argument("--max-sessions", type=int, default=MAX_SESSIONS, help="open tabs at most")
    p.add_argument("--font-size", type=int, default=DEFAULT_FONT_SIZE, help="text size in px")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def session_command(args: argparse.Namespace) -> str:
    """What textual-serve runs for each browser tab: this program, as a web session."""
    parts = [sys.executable, "-m", "caterking_display.cli", "run", "--web-session"]
    if args.config is not None:
        parts += ["--config", str(args.config)]
    if getattr(args, "data_dir", None):
        parts += ["--data-dir", str(args.data_dir)]
    if getattr(args, "station", None):
        parts += ["--station", str(args.station)]
    if getattr(args, "theme", None):
        parts += ["--theme", str(args.theme)]
    return " ".join(shlex.quote(p) for p in parts)


def make_server(args: argparse.Namespace) -> Any:
    """The textual-serve server, with our page, a session limit and URLs taken from the
    address the tablet used (so it works behind any name or address)."""
    import aiohttp_jinja2
    import textual_serve
    from aiohttp import web
    from textual_serve.server import Server

    statics = Path(textual_serve.__file__).parent / "static"

    class BoardServer(Server):
        def __init__(self) -> None:
            super().__init__(
                session_command(args),
                host=args.host,
                port=args.port,
                title="CaterKing Display",
                statics_path=statics,
                templates_path=ASSETS,
            )
            self.sessions = 0
            self.max_sessions = max(1, args.max_sessions)
            self.font_size = args.font_size

        @aiohttp_jinja2.template("board.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            try:
                size = int(request.query.get("fontsize", self.font_size))
            except ValueError:
                size = self.font_size
            scheme = "wss" if request.secure else "ws"
            return {
                "font_size": max(10, min(size, 48)),
                "app_websocket_url": f"{scheme}://{request.host}/ws",
                "config": {"static": {"url": "/static/"}},
                "application": {"name": "CaterKing Display"},
            }

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            if self.sessions >= self.max_sessions:
                raise web.HTTPServiceUnavailable(text="Too many boards open on this host.")
            self.sessions += 1
            try:
                return await super().handle_websocket(request)
            finally:
                self.sessions -= 1

    return BoardServer()


def main(args: argparse.Namespace) -> int:
    if not _loopback(args.host) and not args.lan:
        print(
            f"error: --host {args.host} serves the board beyond this machine; add --lan to"
            " confirm (anyone on that network can open the sign-in page)",
            file=sys.stderr,
        )
        return 2
    try:
        values = merged_values(args.config, flags=flags_from(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for key in ("server.url", "server.anon_key"):
        if not (isinstance(values.get(key), str) and values[key].strip()):
            print(
                f"error: {key}: missing — the tablets use this host's server settings;"
                " run the board here once to set them up, or set SUPABASE_URL /"
                " SUPABASE_ANON_KEY",
                file=sys.stderr,
            )
            return 2
    try:
        server = make_server(args)
    except ImportError:
        print(
            "error: the web board needs textual-serve: pip install 'caterking-display[web]'",
            file=sys.stderr,
        )
        return 2
    if args.lan:
        print(
            "Serving the board on the kitchen's network: tablets must sign in with a display"
            " account before they see anything.",
            file=sys.stderr,
        )
    server.serve()
    return 0
