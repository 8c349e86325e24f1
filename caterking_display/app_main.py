"""`caterking-display run`: configuration → store → sync engine → board. Glue only.

The board opens at once from the saved copy; the sync engine runs beside it on the
same event loop and reports its state, so an unreachable server still shows the
last board with the Offline banner.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import logging.handlers
import os
import signal
import sys
from pathlib import Path
from typing import Any

from caterking_display.config import Config, ConfigError, load
from caterking_display.domain.clock import Clock, SystemClock

log = logging.getLogger("caterking_display")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML config file (default: user config dir)")
    p.add_argument("--data-dir", help="where the local store and logs live")
    p.add_argument("--url", help="Supabase URL (overrides SUPABASE_URL)")
    p.add_argument("--anon-key", help="Supabase anon key (overrides SUPABASE_ANON_KEY)")
    p.add_argument("--email", help="device account email")
    p.add_argument("--password", help="device account password")
    p.add_argument("--kitchen-id", help="kitchen to show (default: the device account's)")
    p.add_argument("--station", help="start filtered to this station")
    p.add_argument("--device-name", help="this device's name, shown to other devices")
    p.add_argument("--kiosk", action="store_true", default=None, help="no quit key, no palette")
    p.add_argument("--theme", choices=["dark", "high-contrast"])
    p.add_argument("--skip-picker", action="store_true", default=None)


FLAG_KEYS = {
    "data_dir": "data_dir",
    "url": "server.url",
    "anon_key": "server.anon_key",
    "email": "device.email",
    "password": "device.password",
    "kitchen_id": "device.kitchen_id",
    "device_name": "device.name",
    "station": "display.station",
    "kiosk": "display.kiosk",
    "theme": "display.theme",
    "skip_picker": "display.skip_picker",
}


def flags_from(args: argparse.Namespace) -> dict[str, Any]:
    return {key: getattr(args, attr, None) for attr, key in FLAG_KEYS.items()}


class _PrivateLogHandler(logging.handlers.RotatingFileHandler):
    """A rotating log only this user may read (0600, rotated files too)."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        return os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)


def setup_logging(data_dir: Path) -> Path:
    """Log to a rotating file: the terminal belongs to the board."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / "display.log"
    handler = _PrivateLogHandler(path, maxBytes=2_000_000, backupCount=3)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    return path


def build(
    cfg: Config, clock: Clock, *, sync_overrides: dict[str, Any] | None = None
) -> tuple[Any, Any, Any]:
    """(store, engine, app) wired together; nothing started yet.

    `sync_overrides` shortens the sync engine's timings (tests, benchmarks).
    """
    from caterking_display.backend import SupabaseBackend
    from caterking_display.store import BoardStore
    from caterking_display.sync import SyncEngine, SyncSettings
    from caterking_display.ui.app import BoardApp
    from caterking_display.ui.settings import UISettings

    store = BoardStore.open(cfg.store_path, clock, cfg.device_name)
    backend = SupabaseBackend(cfg.url, cfg.anon_key)
    engine = SyncEngine(
        store,
        backend,
        clock,
        SyncSettings(
            email=cfg.email,
            password=cfg.password,
            kitchen_id=cfg.kitchen_id,
            device=cfg.device_name,
            **(sync_overrides or {}),
        ),
    )
    ui = UISettings(
        kitchen_name=store.get_meta("kitchen_name") or "Kitchen",
        skip_picker=cfg.skip_picker,
        default_staff_id=cfg.default_staff_id,
        kiosk=cfg.kiosk,
        exit_chord=cfg.exit_chord,
        theme="high-contrast" if cfg.theme == "high-contrast" else "dark",
        keymap=dict(cfg.keymap),
        due_soon_minutes=cfg.due_soon_minutes,
        stale_after_seconds=cfg.stale_after_seconds,
        done_recent_minutes=cfg.done_recent_minutes,
        device_name=cfg.device_name,
        timezone=store.get_meta("kitchen_timezone"),
        initial_station=cfg.station,
        bell_on_rush=cfg.bell_on_rush,
        alert_command=cfg.alert_command,
    )
    app = BoardApp(store, clock, ui, on_action_enqueued=engine.kick)
    return store, engine, app


EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


async def _exit_when_terminal_goes(app: Any, fd: int) -> None:
    """A closed terminal (a hang-up nobody signalled) ends the board, instead of it
    spinning on end-of-file forever."""
    while True:
        await asyncio.sleep(1.0)
        if not os.isatty(fd):
            log.warning("the terminal went away: closing the board")
            app.exit()
            return


async def run_board(cfg: Config, clock: Clock | None = None) -> int:
    clock = clock or SystemClock()
    store, engine, app = build(cfg, clock)
    unsubscribe = engine.on_status(app.set_status)
    sync_task = asyncio.create_task(engine.run(), name="sync-engine")
    # SIGTERM (systemd, the demo's caller), SIGHUP (the terminal closed) and SIGINT end
    # the board like its quit key, so the store is closed and nothing is left running.
    loop = asyncio.get_running_loop()
    handled = []
    for sig in EXIT_SIGNALS:
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            previous = signal.getsignal(sig)
            loop.add_signal_handler(sig, app.exit)
            handled.append((sig, previous))
    watch = None
    with contextlib.suppress(AttributeError, OSError, ValueError):
        if sys.stdin.isatty():
            watch = asyncio.create_task(_exit_when_terminal_goes(app, sys.stdin.fileno()))
    try:
        await app.run_async()
    finally:
        if watch is not None:
            watch.cancel()
        for sig, previous in handled:
            loop.remove_signal_handler(sig)
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, previous)
        unsubscribe()
        await engine.stop()
        if not sync_task.done():
            sync_task.cancel()
        await asyncio.gather(sync_task, return_exceptions=True)
        store.close()
    return int(app.return_code or 0)


def main(args: argparse.Namespace) -> int:
    try:
        cfg = load(args.config, flags=flags_from(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log_path = setup_logging(cfg.data_dir)
    log.info("starting board for %s (log %s)", cfg.url, log_path)
    return asyncio.run(run_board(cfg))
