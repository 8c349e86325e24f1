"""Real local stack (in its own thread and loop) + fault proxy + sync clients."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from caterking_display.backend import SupabaseBackend
from caterking_display.domain.clock import Clock, SystemClock
from caterking_display.store import BoardStore
from caterking_display.sync import SyncEngine, SyncSettings
from caterking_server.embedded_pg import EmbeddedPostgres
from caterking_server.ratelimit import AuthLimits
from caterking_server.stack import LocalStack
from tests.faultproxy import FaultProxy
from tests.pg import Kitchen, seed_kitchen
from tests.stack import Device, StackThread, cloned_database, create_display


@pytest.fixture(scope="session")
def sync_stack(
    pg_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """The sync tests' own stack: their fault injection must not disturb other tests."""
    with (
        cloned_database(pg_server, "sy") as url,
        StackThread(
            LocalStack(
                tmp_path_factory.mktemp("sync-stack"),
                db_url=url,
                auth_limits=AuthLimits.unlimited(),  # many sign-ins from 127.0.0.1
            )
        ) as s,
    ):
        yield s


def fast_settings(dev: Device, name: str, **kw: Any) -> SyncSettings:
    base: dict[str, Any] = dict(
        email=dev.email,
        password=dev.password,
        device=name,
        heartbeat_interval=1.0,
        backoff_base=0.1,
        backoff_cap=1.0,
        join_timeout=5.0,
        live_timeout=5.0,
        rpc_timeout=3.0,
        fetch_timeout=5.0,
        rng=random.Random(name),
    )
    base.update(kw)
    return SyncSettings(**base)


@dataclass
class Clients:
    """Builds sync clients; stops them all at the end of the test."""

    url: str
    anon_key: str
    device: Device
    engines: list[SyncEngine] = field(default_factory=list)

    def make(
        self,
        name: str,
        *,
        url: str | None = None,
        path: Path | None = None,
        clock: Clock | None = None,
        store: BoardStore | None = None,
        **kw: Any,
    ) -> SyncEngine:
        clock = clock or SystemClock()
        store = store or BoardStore(path, clock, name)
        backend = SupabaseBackend(url or self.url, self.anon_key)
        eng = SyncEngine(store, backend, clock, fast_settings(self.device, name, **kw))
        self.engines.append(eng)
        eng.start()
        return eng

    async def close(self) -> None:
        for e in self.engines:
            await e.stop()
            await e.backend.aclose()
            e.store.close()


@pytest.fixture
def kitchen(sync_stack: LocalStack) -> Kitchen:
    with psycopg.connect(sync_stack.db_dsn, autocommit=True) as conn:
        return seed_kitchen(conn)  # type: ignore[arg-type]


@pytest.fixture
def display(sync_stack: LocalStack, kitchen: Kitchen) -> Device:
    return create_display(sync_stack.url, sync_stack.service_role_key, kitchen)


@pytest.fixture
async def proxy(sync_stack: LocalStack) -> AsyncIterator[FaultProxy]:
    host, port = sync_stack.url.removeprefix("http://").rsplit(":", 1)
    p = await FaultProxy(host, int(port)).start()
    try:
        yield p
    finally:
        await p.stop()


@pytest.fixture
async def clients(
    sync_stack: LocalStack, display: Device, proxy: FaultProxy
) -> AsyncIterator[Clients]:
    c = Clients(proxy.url, sync_stack.anon_key, display)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def db(sync_stack: LocalStack) -> Iterator[psycopg.Connection[Any]]:
    from psycopg.rows import dict_row

    with psycopg.connect(sync_stack.db_dsn, autocommit=True, row_factory=dict_row) as conn:
        yield conn
