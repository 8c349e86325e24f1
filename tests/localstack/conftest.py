"""A LocalStack on a free port, run in its own thread and event loop so both the sync
and the async official clients can drive it from tests."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import psycopg
import pytest

from caterking_display.localstack.embedded_pg import EmbeddedPostgres
from caterking_display.localstack.stack import LocalStack
from tests.pg import TEMPLATE_DB, Kitchen, connect, seed_kitchen


class StackThread:
    """Runs `LocalStack.start()` … `stop()` on a private event loop in a daemon thread."""

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


@pytest.fixture(scope="session")
def stack_db(pg_server: EmbeddedPostgres) -> Iterator[str]:
    name = f"ls_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(f"create database {name} template {TEMPLATE_DB}")
    try:
        yield pg_server.url(name)
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")


@pytest.fixture(scope="session")
def stack(stack_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    data_dir: Path = tmp_path_factory.mktemp("stack")
    with StackThread(LocalStack(data_dir, db_url=stack_db)) as s:
        yield s


@pytest.fixture
def kitchen(stack: LocalStack) -> Kitchen:
    """A fresh tenant + kitchen + 3 staff: tests isolate their data by tenant."""
    with connect(stack.db_dsn) as conn:
        return seed_kitchen(conn)
