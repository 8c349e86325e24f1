"""A RealtimeService on its own aiohttp app and port, over a fresh migrated database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from caterking_server import tokens
from caterking_server.embedded_pg import free_port
from caterking_server.realtime import RealtimeService
from tests.pg import Kitchen, connect, device_claims, seed_kitchen

SECRET = "realtime-test-secret-" + "x" * 32


@dataclass
class Stack:
    service: RealtimeService
    db_url: str
    port: int
    secret: str = SECRET
    anon: str = field(default_factory=lambda: tokens.api_key("anon", SECRET))
    service_key: str = field(default_factory=lambda: tokens.api_key("service_role", SECRET))

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/realtime/v1"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def device_token(self, k: Kitchen, *, ttl: float = 3600, **extra: Any) -> str:
        claims = device_claims(k.tenant_id, k.kitchen_id)
        claims["exp"] = int(time.time() + ttl)
        claims.update(extra)
        return tokens.sign(claims, self.secret)

    def seed(self) -> Kitchen:
        with connect(self.db_url) as conn:
            return seed_kitchen(conn)

    def sql(self, query: str, *params: Any) -> list[dict[str, Any]]:
        with connect(self.db_url) as conn:
            cur = conn.execute(query, params or None)
            return cur.fetchall() if cur.description else []


async def start_stack(db_url: str, **kwargs: Any) -> tuple[Stack, web.AppRunner]:
    service = RealtimeService(db_url, SECRET, **kwargs)
    await service.start()
    app = web.Application()
    service.add_routes(app)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return Stack(service, db_url, port), runner


async def stop_stack(stack: Stack, runner: web.AppRunner) -> None:
    await stack.service.stop()
    await runner.cleanup()


@pytest.fixture
async def rts(db_url: str) -> AsyncIterator[Stack]:
    st, runner = await start_stack(db_url)
    try:
        yield st
    finally:
        await stop_stack(st, runner)


async def wait_for(cond: Callable[[], Any], limit: float = 5.0, what: str = "condition") -> Any:
    """Poll `cond` until truthy (no fixed sleeps in tests)."""
    deadline = time.monotonic() + limit
    while True:
        value = cond()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def new_id() -> str:
    return str(uuid.uuid4())
