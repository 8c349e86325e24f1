"""`caterking-display run`: configuration → store → sync engine → board. Glue only.

The board opens at once from the saved copy; the sync engine runs beside it on the
same event loop and reports its state, so an unreachable server still shows the
last board with the Offline banner.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from caterking_display.config import (
    Config,
    ConfigError,
    default_data_dir,
    load,
    merged_values,
    missing,
    validate,
)
from caterking_display.device_setup import DeviceSetup
from caterking_display.domain.clock import Clock, SystemClock
from caterking_display.domain.setup import SetupDraft
from caterking_display.domain.sync_status import ConnectionState, ErrorKind, Feed, SyncStatus

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
    p.add_argument(
        "--web-session",
        action="store_true",
        help=argparse.SUPPRESS,  # one browser tab of `web`: sign in, then this tablet's board
    )


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
    from caterking_display.store import BoardStore, meta_keys
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
            feed=Feed(cfg.feed),
            **(sync_overrides or {}),
        ),
    )
    ui = UISettings(
        kitchen_name=store.get_meta(meta_keys.KITCHEN_NAME) or "Kitchen",
        skip_picker=cfg.skip_picker,
        default_staff_id=cfg.default_staff_id,
        kiosk=cfg.kiosk,
        exit_chord=cfg.exit_chord,
        theme="high-contrast" if cfg.theme == "high-contrast" else "dark",
        keymap=dict(cfg.keymap),
        due_soon_minutes=cfg.due_soon_minutes,
        stale_after_seconds=cfg.stale_after_seconds,
        done_recent_minutes=cfg.done_recent_minutes,
        timezone=store.get_meta(meta_keys.KITCHEN_TIMEZONE),
        initial_station=cfg.station,
        bell_on_rush=cfg.bell_on_rush,
        alert_command=cfg.alert_command,
    )
    setup_draft = SetupDraft(
        url=cfg.url, anon_key=cfg.anon_key, email=cfg.email, password=cfg.password,
        station=cfg.station or "",
    )  # fmt: skip
    app = BoardApp(
        store,
        clock,
        ui,
        on_action_enqueued=engine.kick,
        setup=DeviceSetup(cfg.config_path),
        setup_draft=setup_draft,
    )
    return store, engine, app


EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
SHUTDOWN_WAIT_S = 10.0


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
        # Bounded, so a signal or a closed terminal always ends the board (and the demo
        # can stop its stack): the store is closed whatever the sync layer was doing.
        try:
            await asyncio.wait_for(engine.stop(), SHUTDOWN_WAIT_S)
        except TimeoutError:
            log.warning("sync did not stop within %.0f s; closing anyway", SHUTDOWN_WAIT_S)
        if not sync_task.done():
            sync_task.cancel()
        await asyncio.wait([sync_task], timeout=SHUTDOWN_WAIT_S)
        store.close()
    return int(app.return_code or 0)


def first_run_setup(args: argparse.Namespace) -> bool:
    """No (or an incomplete) configuration: the setup screen, on a terminal. True when
    something was saved; False when there is nothing to set up or it was left."""
    try:
        values = merged_values(args.config, flags=flags_from(args))
    except ConfigError:
        return False  # a broken file: `load` names it in one line
    if not missing(values) or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    from caterking_display.device_setup import draft_from
    from caterking_display.ui.setup_app import SetupApp

    kiosk = values.get("display.kiosk") in (True, "true", "1", "yes", "on")
    chord = values.get("display.exit_chord")
    app = SetupApp(
        DeviceSetup(args.config),
        draft_from(values),
        SystemClock(),
        kiosk=kiosk,
        exit_chord=chord if isinstance(chord, str) and chord else "ctrl+x",
    )
    return app.run() is not None


TABLETS_DIR = "tablets"


def tablet_data_dir(host_data_dir: Path, email: str) -> Path:
    """Where a tablet's board lives on the host: one folder per display account, so the
    same account on any tablet (or after a reload) finds its board and waiting actions."""
    digest = hashlib.sha256(email.strip().casefold().encode()).hexdigest()[:16]
    return host_data_dir / TABLETS_DIR / digest


def _keep_credential(data_dir: Path, password: str) -> Callable[[SyncStatus], None]:
    """Once the server accepts the tablet's account, remember it (so the tablet can open
    its saved board in an outage); forget it when the server refuses the password."""
    from caterking_display import credentials

    kept = False
    tasks: set[asyncio.Task[None]] = set()

    def on_status(status: SyncStatus) -> None:
        nonlocal kept
        if status.state is ConnectionState.LIVE and not kept:
            kept = True
            t = asyncio.create_task(asyncio.to_thread(credentials.remember, data_dir, password))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        elif status.state is ConnectionState.AUTH_FAILED and status.error_kind is ErrorKind.SIGN_IN:
            kept = False
            credentials.forget(data_dir)

    return on_status


def run_web_session(args: argparse.Namespace) -> int:
    """One browser tab of `web`: nothing of the kitchen until a display account signs in;
    then that account's board, kept on this host (the same app throughout: a browser tab
    is one app session)."""
    host = merged_values(args.config, flags=flags_from(args))
    base = Path(str(host.get("data_dir") or default_data_dir())).expanduser()
    return asyncio.run(_web_session(host, base))


async def _web_session(host: dict[str, Any], base: Path) -> int:
    from caterking_display.backend import SupabaseBackend
    from caterking_display.device_setup import draft_from
    from caterking_display.store import BoardStore
    from caterking_display.sync import SyncEngine, SyncSettings
    from caterking_display.ui.app import BoardApp
    from caterking_display.ui.settings import ThemeName, UISettings

    clock = SystemClock()
    # The tablet signs in as itself: never with this host's own device account.
    draft = replace(draft_from(host), email="", password="")
    theme: ThemeName = "high-contrast" if host.get("display.theme") == "high-contrast" else "dark"
    app = BoardApp(
        BoardStore(None, clock, "tablet"),  # empty until someone signs in
        clock,
        UISettings(kitchen_name="CaterKing", theme=theme),
        setup=DeviceSetup(persist=False, offline_dir=lambda email: tablet_data_dir(base, email)),
        setup_draft=draft,
    )
    opened: list[Any] = []  # (engine, task, store, lock) once signed in

    async def sign_in(signed: SetupDraft) -> str | None:
        data_dir = tablet_data_dir(base, signed.email)
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = (data_dir / "session.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            return "This account is open on another tablet or tab: close it there first."
        values = {
            **host,
            "server.url": signed.url,
            "server.anon_key": signed.anon_key,
            "device.email": signed.email,
            "device.password": signed.password,
            "device.name": "tablet-" + signed.email.split("@", 1)[0],
            "display.station": signed.station or None,
            "data_dir": str(data_dir),
        }
        try:
            cfg = validate(values, Path(os.devnull))
        except ConfigError as exc:
            lock.close()
            return str(exc)
        setup_logging(cfg.data_dir)
        log.info("web session for %s (%s)", cfg.device_name, cfg.data_dir)
        store = BoardStore.open(cfg.store_path, clock, cfg.device_name)
        engine = SyncEngine(
            store,
            SupabaseBackend(cfg.url, cfg.anon_key),
            clock,
            SyncSettings(
                email=cfg.email,
                password=cfg.password,
                kitchen_id=cfg.kitchen_id,
                device=cfg.device_name,
                feed=Feed(cfg.feed),
            ),
        )
        engine.on_status(app.set_status)
        engine.on_status(_keep_credential(cfg.data_dir, signed.password))
        task = asyncio.create_task(engine.run(), name="sync-engine")
        opened.append((engine, task, store, lock))
        app.station = cfg.station
        app.attach(store, on_action_enqueued=engine.kick)
        return None

    app.sign_in_first = sign_in
    try:
        await app.run_async()
    finally:
        for engine, task, store, lock in opened:
            await engine.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await engine.backend.aclose()
            store.close()
            lock.close()
    return int(app.return_code or 0)


def main(args: argparse.Namespace) -> int:
    from caterking_display.ui.app import RESTART_WITH_NEW_SETTINGS

    if getattr(args, "web_session", False):
        return run_web_session(args)
    first_run_setup(args)
    while True:
        try:
            cfg = load(args.config, flags=flags_from(args))
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        log_path = setup_logging(cfg.data_dir)
        log.info("starting board for %s (log %s)", cfg.url, log_path)
        code = asyncio.run(run_board(cfg))
        if code != RESTART_WITH_NEW_SETTINGS:
            return code
        log.info("settings changed on the setup screen: opening the board again")
