"""Test support for the real local stack: run it on its own loop, clone databases,
create device accounts through the Auth admin API."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from caterking_server.embedded_pg import EmbeddedPostgres
from caterking_server.stack import LocalStack
from tests.pg import TEMPLATE_DB, Kitchen


class StackThread:
    """Runs `LocalStack.start()` … `stop()` on a private event loop in a daemon thread,
    so both the sync and the async official clients can drive it from tests."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, coro: Any, timeout: float = 60) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def __enter__(self) -> LocalStack:
        self.thread.start()
        self.call(self.stack.start())
        return self.stack

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self.stack.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@contextmanager
def cloned_database(server: EmbeddedPostgres, prefix: str) -> Iterator[str]:
    """A fresh database cloned from the migrated template; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(f"create database {name} template {TEMPLATE_DB}")
    try:
        yield server.url(name)
    finally:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")


@dataclass
class Device:
    email: str
    password: str


def create_display(
    url: str, service_key: str, k: Kitchen, device_name: str | None = None
) -> Device:
    """A display device account for kitchen `k`, made with the service role key.
    `device_name`: the name its actions record (else the email's local part)."""
    email = f"display-{uuid.uuid4().hex[:8]}@test.local"
    password = uuid.uuid4().hex
    meta: dict[str, Any] = {
        "tenant_id": k.tenant_id,
        "kitchen_id": k.kitchen_id,
        "device_kind": "display",
    }
    if device_name is not None:
        meta["device_name"] = device_name
    r = httpx.post(
        f"{url}/auth/v1/admin/users",
        headers={"apikey": service_key, "Authorization": f"Bearer {service_key}"},
        json={
            "email": email,
            "password": password,
            "email_confirm": True,
            "app_metadata": meta,
        },
        timeout=10,
    )
    assert r.status_code in (200, 201), r.text
    return Device(email, password)
