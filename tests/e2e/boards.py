"""Headless board apps on the real local stack, for end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from caterking_display.app_main import build
from caterking_display.config import Config
from caterking_display.domain.clock import SystemClock
from caterking_display.domain.sync_status import ConnectionState, SyncStatus
from caterking_server.stack import LocalStack
from tests import waiting
from tests.pg import Kitchen
from tests.stack import create_display


async def until(pilot: Any, cond: Callable[[], object], within: float = 10) -> None:
    """Let the app run until `cond()` holds; fail after `within` seconds."""
    await waiting.until(cond, within, pilot=pilot)


def config(
    stack: LocalStack, email: str, password: str, data_dir: Path, name: str, url: str | None = None
) -> Config:
    return Config(
        url=url or stack.url,
        anon_key=stack.anon_key,
        email=email,
        password=password,
        kitchen_id=None,
        data_dir=data_dir,
        device_name=name,
    )


@asynccontextmanager
async def live_board(
    stack: LocalStack,
    kitchen: Kitchen,
    data_dir: Path,
    name: str,
    *,
    on_status: Callable[[SyncStatus], None] | None = None,
    url: str | None = None,
    sync_overrides: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[Any, Any, Any]]:
    """A board signed in as a new display of `kitchen`, wired as `run` wires it, and
    live: yields (store, app, pilot); stops the sync engine and closes the store after.
    ``url``: reach the stack through this address instead (a fault proxy)."""
    # As the README sets displays up: the account's device_name is the board's name, so
    # the board recognises the claims it made (the server records the account's name).
    dev = create_display(stack.url, stack.service_role_key, kitchen, device_name=name)
    store, engine, app = build(
        config(stack, dev.email, dev.password, data_dir, name, url),
        SystemClock(),
        sync_overrides=sync_overrides,
    )

    def status_changed(status: SyncStatus) -> None:
        if on_status is not None:
            on_status(status)
        app.set_status(status)

    engine.on_status(status_changed)
    runner = asyncio.create_task(engine.run())
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await until(pilot, lambda: app.status.state is ConnectionState.LIVE)
            yield store, app, pilot
    finally:
        await engine.stop()
        await asyncio.gather(runner, return_exceptions=True)
        store.close()
