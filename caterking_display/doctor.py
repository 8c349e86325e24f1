"""`caterking-display doctor`: check configuration, storage and the server, in plain words.

For the person installing a display: each line says what was checked and, when it
fails, what to fix. Exit code 0 when everything needed to run is fine.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from datetime import timedelta

from caterking_display.app_main import add_arguments as add_run_arguments
from caterking_display.app_main import flags_from
from caterking_display.config import Config, ConfigError, load
from caterking_display.domain.clock import SystemClock
from caterking_display.domain.sync_status import ConnectionState, Feed


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)


def check_storage(cfg: Config) -> list[Check]:
    from caterking_display.store import BoardStore

    try:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        probe = cfg.data_dir / ".doctor-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return [Check("data dir", False, f"{cfg.data_dir} is not writable: {exc.strerror}")]
    checks = [Check("data dir", True, str(cfg.data_dir))]
    store = BoardStore.open(cfg.store_path, SystemClock(), cfg.device_name)
    try:
        view = store.view()
        pending = len(store.pending_ops())
        failed = len(store.failed_actions())
        saved = store.saved_at
        checks.append(
            Check(
                "local store",
                True,
                f"{len(view.tasks)} task(s) saved"
                + (f" at {saved:%Y-%m-%d %H:%M} UTC" if saved else "")
                + f", {pending} change(s) waiting to sync, {failed} not applied",
            )
        )
    finally:
        store.close()
    return checks


async def check_server(cfg: Config) -> list[Check]:
    from caterking_display.backend import AuthRejected, BackendError, SupabaseBackend

    backend = SupabaseBackend(cfg.url, cfg.anon_key)
    checks: list[Check] = []
    try:
        try:
            session = await backend.sign_in(cfg.email, cfg.password)
        except AuthRejected as exc:
            from caterking_display.ui.status_text import SIGN_IN_WORDS

            words = SIGN_IN_WORDS.get((exc.code or "").casefold(), f"{exc}: check them")
            return [Check("sign-in", False, f"{cfg.email}: {words}")]
        except BackendError as exc:
            return [Check("server", False, f"cannot reach {cfg.url}: {exc}")]
        checks.append(Check("server", True, cfg.url))
        checks.append(Check("sign-in", True, f"{cfg.email} (user {session.user_id})"))
        skew = backend.clock_skew
        if skew is not None:
            far = abs(skew) > timedelta(seconds=30)
            checks.append(
                Check(
                    "clock",
                    not far,
                    f"device clock is {abs(skew.total_seconds()):.0f} s "
                    f"{'behind' if skew.total_seconds() > 0 else 'ahead of'} the server"
                    + (" — fix the device time (NTP)" if far else ""),
                )
            )
        meta = session.app_metadata
        kitchen_id = cfg.kitchen_id or meta.get("kitchen_id")
        if not kitchen_id:
            checks.append(
                Check(
                    "kitchen",
                    False,
                    "the device account has no app_metadata.kitchen_id and none is configured",
                )
            )
            return checks
        if meta.get("device_kind") != "display":
            checks.append(Check("account", False, "app_metadata.device_kind should be 'display'"))
        backend.set_session(session)
        try:
            board = await backend.fetch_board(str(kitchen_id))
        except BackendError as exc:
            checks.append(Check("board", False, f"cannot read the kitchen's board: {exc}"))
            return checks
        if board.kitchen is None:
            checks.append(
                Check("kitchen", False, f"kitchen {kitchen_id} is not visible to this account")
            )
        else:
            checks.append(
                Check(
                    "board",
                    True,
                    f"{board.kitchen.get('name')}: {len(board.tasks)} task(s), "
                    f"{len(board.staff)} staff",
                )
            )
            stations = sorted({str(t.get("station") or "") for t in board.tasks} - {""})
            if cfg.station and cfg.station.casefold() not in {s.casefold() for s in stations}:
                checks.append(
                    Check(
                        "station",
                        False,
                        f"no task at station {cfg.station!r}; stations on the board: "
                        f"{', '.join(stations) or 'none yet'}",
                    )
                )
        return checks
    finally:
        await backend.aclose()


FEED_WORDS = {
    Feed.BROADCAST: "changes arrive as broadcasts from the database",
    Feed.POSTGRES_CHANGES: "changes arrive by postgres_changes",
}


async def check_realtime(cfg: Config, timeout: float = 15.0) -> Check:  # noqa: ASYNC109
    """Join the kitchen's channel as the board does (in memory: the store on disk is
    not touched) and say how changes will arrive."""
    from caterking_display.backend import SupabaseBackend
    from caterking_display.store import BoardStore
    from caterking_display.sync import SyncEngine, SyncSettings

    store = BoardStore(None, SystemClock(), cfg.device_name)
    engine = SyncEngine(
        store,
        SupabaseBackend(cfg.url, cfg.anon_key),
        SystemClock(),
        SyncSettings(
            email=cfg.email,
            password=cfg.password,
            kitchen_id=cfg.kitchen_id,
            device=f"{cfg.device_name} (doctor)",
            feed=Feed(cfg.feed),
        ),
    )
    live = asyncio.Event()  # live, or the first attempt failed: either way, an answer
    engine.on_status(
        lambda st: live.set() if st.state is ConnectionState.LIVE or st.last_error else None
    )
    engine.start()
    try:
        try:
            await asyncio.wait_for(live.wait(), timeout)
        except TimeoutError:
            pass
        if engine.status.state is not ConnectionState.LIVE:
            why = engine.status.last_error or "no answer"
            return Check("realtime", False, f"could not join the kitchen's channel: {why}")
        feed = engine.status.feed or Feed.POSTGRES_CHANGES
        words = FEED_WORDS[feed]
        if cfg.feed == Feed.AUTO and feed is Feed.POSTGRES_CHANGES:
            words += " (the server does not deliver database broadcasts: see docs)"
        return Check("realtime", True, f"live; {words}")
    finally:
        await engine.stop()
        await engine.backend.aclose()
        store.close()


def main(args: argparse.Namespace) -> int:
    try:
        cfg = load(args.config, flags=flags_from(args))
    except ConfigError as exc:
        print(f"✗ config      {exc}")
        return 2
    checks = [Check("config", True, str(cfg.config_path))]
    checks += check_storage(cfg)
    checks += asyncio.run(check_server(cfg))
    if all(c.ok for c in checks):
        checks.append(asyncio.run(check_realtime(cfg)))
    for c in checks:
        print(f"{'✓' if c.ok else '✗'} {c.name:<11} {c.detail}")
    bad = [c for c in checks if not c.ok]
    if bad:
        print(f"{len(bad)} problem(s) found.", file=sys.stderr)
        return 1
    print("All good: this display is ready to run.")
    return 0
