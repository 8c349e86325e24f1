"""First-run setup of a display: check what was typed, find a kitchen server, save it.

The setup screen (in the UI) asks for the server address and key, the device account
and the station. This module does the work it must not do itself — the network and the
file: it checks a draft step by step the way `doctor` does (server reachable, sign-in
works, kitchen found, realtime joins, station known), looks for a kitchen server on this
network, and writes the configuration file (owner-only). Results are facts (a step, ok
or not, a machine word); the UI chooses the words.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import socket
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from caterking_display import credentials
from caterking_display.config import default_config_path
from caterking_display.domain.setup import STEPS, FoundServer, SetupDraft, Step, StepResult

__all__ = ["FoundServer", "SetupDraft", "Step", "StepResult", "check_draft", "save", "scan"]

log = logging.getLogger(__name__)

KITCHEN_SERVER_PORT = 54321
SETUP_INFO_PATH = "/kitchen/v1/setup"
"""A kitchen server answers here with its address and anon key (both public by design:
the anon key is what every web app of a Supabase project embeds)."""


def _not_run(after: Step) -> list[StepResult]:
    rest = STEPS[STEPS.index(after) + 1 :]
    return [StepResult(s, None, "after_failure") for s in rest]


async def check_draft(draft: SetupDraft, *, timeout: float = 5.0) -> list[StepResult]:  # noqa: ASYNC109
    """Every step, in order; a step that fails stops the ones after it."""
    from caterking_display.backend import (
        AuthRejected,
        BackendError,
        SupabaseBackend,
    )

    url = draft.url.strip().rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return [StepResult(Step.SERVER, False, "bad_url"), *_not_run(Step.SERVER)]
    if not draft.anon_key.strip():
        return [StepResult(Step.SERVER, False, "no_key"), *_not_run(Step.SERVER)]
    if not draft.email.strip() or not draft.password:
        if not await _reachable(url, draft.anon_key.strip(), timeout):
            return [StepResult(Step.SERVER, False, "unreachable"), *_not_run(Step.SERVER)]
        return [
            StepResult(Step.SERVER, True),
            StepResult(Step.SIGN_IN, None, "missing"),
            *_not_run(Step.SIGN_IN),
        ]
    backend = SupabaseBackend(url, draft.anon_key.strip(), timeout=timeout)
    results: list[StepResult] = []
    try:
        try:
            session = await backend.sign_in(draft.email.strip(), draft.password)
        except AuthRejected as exc:
            results.append(StepResult(Step.SERVER, True))
            results.append(StepResult(Step.SIGN_IN, False, exc.code or "refused"))
            return [*results, *_not_run(Step.SIGN_IN)]
        except BackendError as exc:
            log.info("setup: server %s: %s", url, exc)
            return [StepResult(Step.SERVER, False, "unreachable"), *_not_run(Step.SERVER)]
        results += [StepResult(Step.SERVER, True), StepResult(Step.SIGN_IN, True)]
        meta = session.app_metadata
        kitchen_id = meta.get("kitchen_id")
        if not isinstance(kitchen_id, str) or not kitchen_id:
            return [
                *results,
                StepResult(Step.KITCHEN, False, "no_kitchen"),
                *_not_run(Step.KITCHEN),
            ]
        try:
            board = await backend.fetch_board(kitchen_id, timeout)
        except BackendError as exc:
            log.info("setup: board fetch: %s", exc)
            return [
                *results,
                StepResult(Step.KITCHEN, False, "unreadable"),
                *_not_run(Step.KITCHEN),
            ]
        if board.kitchen is None:
            return [
                *results,
                StepResult(Step.KITCHEN, False, "not_visible"),
                *_not_run(Step.KITCHEN),
            ]
        results.append(StepResult(Step.KITCHEN, True, "", str(board.kitchen.get("name") or "")))
        joined = await _joins(backend, kitchen_id, session.access_token, meta, timeout)
        results.append(StepResult(Step.REALTIME, joined, "" if joined else "join_failed"))
        stations = sorted({str(t.get("station") or "") for t in board.tasks} - {""})
        want = draft.station.strip()
        if not want:
            results.append(StepResult(Step.STATION, None, "all", ", ".join(stations)))
        elif want.casefold() in {s.casefold() for s in stations}:
            results.append(StepResult(Step.STATION, True, "", want))
        else:
            results.append(StepResult(Step.STATION, False, "unknown_station", ", ".join(stations)))
        return results
    finally:
        await backend.aclose()


async def _reachable(url: str, anon_key: str, timeout: float) -> bool:  # noqa: ASYNC109
    try:
        async with httpx.AsyncClient(timeout=timeout) as c:
            r = await c.get(f"{url}/auth/v1/health", headers={"apikey": anon_key})
        return r.status_code < 500
    except httpx.HTTPError:
        return False


async def _joins(
    backend: Any,
    kitchen_id: str,
    token: str,
    meta: Mapping[str, Any],
    timeout: float,  # noqa: ASYNC109
) -> bool:
    """Does the kitchen's realtime channel let this account in?"""
    from caterking_display.backend.types import LinkHandlers

    def ignore(*_args: object) -> None:
        return None

    handlers = LinkHandlers(
        on_change=ignore, on_presence=ignore, on_broadcast=ignore, on_system=ignore, on_close=ignore
    )
    try:
        link = await backend.connect_channel(
            kitchen_id,
            token,
            "setup-check",
            handlers,
            heartbeat_interval=25.0,
            timeout=timeout,
            tenant_id=meta.get("tenant_id") if isinstance(meta.get("tenant_id"), str) else None,
        )
    except Exception as exc:
        log.info("setup: realtime join: %s", exc)
        return False
    await link.close()
    return True


# --- finding a kitchen server ----------------------------------------------------------


def _candidates(port: int) -> list[str]:
    """This machine, then every host of this machine's /24 networks."""
    hosts: list[str] = ["127.0.0.1"]
    with contextlib.suppress(OSError):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent: it picks the LAN address
            mine = s.getsockname()[0]
        net = ipaddress.ip_network(f"{mine}/24", strict=False)
        hosts += [str(h) for h in net.hosts() if str(h) != mine]
    return [f"http://{h}:{port}" for h in hosts]


async def scan(
    *,
    port: int = KITCHEN_SERVER_PORT,
    timeout: float = 0.6,  # noqa: ASYNC109 - per probe, not for the whole scan
    limit: int = 64,
) -> list[FoundServer]:
    """Kitchen servers answering on this network (at most ``limit`` probes at a time)."""
    gate = asyncio.Semaphore(limit)
    found: list[FoundServer] = []

    async def probe(client: httpx.AsyncClient, url: str) -> None:
        async with gate:
            try:
                r = await client.get(f"{url}{SETUP_INFO_PATH}")
            except httpx.HTTPError:
                return
        if r.status_code == 200:
            with contextlib.suppress(ValueError, AttributeError):
                body = r.json()
                key = body.get("anon_key")
                found.append(FoundServer(url, key if isinstance(key, str) else None))

    async with httpx.AsyncClient(timeout=timeout) as client:
        await asyncio.gather(*(probe(client, u) for u in _candidates(port)))
    return sorted(found, key=lambda f: (not f.url.startswith("http://127."), f.url))


# --- the configuration file ---------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string


def dump_toml(data: Mapping[str, Any]) -> str:
    """Tables of plain values (what the configuration holds), as TOML."""
    top = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    parts = ["\n".join(top)] if top else []
    for name, table in data.items():
        if isinstance(table, Mapping):
            body = "\n".join(
                f"{json.dumps(k) if not k.replace('_', '').isalnum() else k} = {_toml_value(v)}"
                for k, v in table.items()
            )
            parts.append(f"[{name}]\n{body}")
    return "\n\n".join(parts) + "\n"


def save(draft: SetupDraft, path: Path | None = None) -> Path:
    """Write the draft into the configuration file (keeping its other settings), readable
    by this user only. Returns the path."""
    target = path or default_config_path()
    current: dict[str, Any] = {}
    if target.exists():
        with contextlib.suppress(OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            current = tomllib.loads(target.read_text("utf-8"))
    server = dict(current.get("server") or {})
    device = dict(current.get("device") or {})
    display = dict(current.get("display") or {})
    server.update(url=draft.url.strip().rstrip("/"), anon_key=draft.anon_key.strip())
    device.update(email=draft.email.strip(), password=draft.password)
    if draft.station.strip():
        display["station"] = draft.station.strip()
    else:
        display.pop("station", None)
    merged = {**current, "server": server, "device": device, "display": display}
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = target.with_name(target.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# Written by the display's setup screen. Edit freely; see the README.\n")
        f.write(dump_toml(merged))
    os.chmod(tmp, 0o600)
    tmp.replace(target)
    return target


def draft_from(values: Mapping[str, Any]) -> SetupDraft:
    """A draft from what is already configured (file < environment < flags)."""

    def text(key: str) -> str:
        v = values.get(key)
        return v.strip() if isinstance(v, str) else ""

    return SetupDraft(
        url=text("server.url"),
        anon_key=text("server.anon_key"),
        email=text("device.email"),
        password=values.get("device.password") or "",
        station=text("display.station"),
    )


def with_found(draft: SetupDraft, server: FoundServer) -> SetupDraft:
    return replace(draft, url=server.url, anon_key=server.anon_key or draft.anon_key)


class DeviceSetup:
    """The setup screen's helper (the UI's `SetupPort`): checks over the network, a scan
    of this network, and the configuration file at ``config_path``."""

    def __init__(
        self,
        config_path: Path | None = None,
        *,
        persist: bool = True,
        offline_dir: Callable[[str], Path] | None = None,
    ) -> None:
        self.config_path = config_path or default_config_path()
        self.persist = persist  # False: a tablet's sign-in (its account is not this host's)
        # A tablet's saved board by account (its data dir), for signing in offline.
        self.offline_dir = offline_dir

    async def check(self, draft: SetupDraft) -> list[StepResult]:
        return await check_draft(draft)

    async def scan(self) -> list[FoundServer]:
        return await scan()

    def save(self, draft: SetupDraft) -> None:
        if self.persist:
            save(draft, self.config_path)

    async def opens_offline(self, draft: SetupDraft) -> bool:
        if self.offline_dir is None or not draft.email or not draft.password:
            return False
        where = self.offline_dir(draft.email)
        return await asyncio.to_thread(credentials.matches, where, draft.password)
