"""A scripted in-memory backend for the sync layer's pure-logic tests (no network)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from caterking_display.backend.types import (
    BoardSnapshot,
    ChangeEvent,
    FeedUnavailable,
    LinkHandlers,
    RpcResult,
    Session,
    SystemEvent,
    TransportError,
)
from caterking_display.domain.actions import Action, Outcome
from caterking_display.domain.sync_status import Feed
from caterking_display.domain.task import Staff, Task


@dataclass
class Call:
    action: Action
    task_id: str
    staff_id: str
    op_id: str
    acted_at: datetime | None = None


class FakeLink:
    def __init__(self, handlers: LinkHandlers, feed: Feed = Feed.POSTGRES_CHANGES) -> None:
        self.handlers = handlers
        self.feed = feed
        self._closed = False
        self.tokens: list[str] = []
        self.stalled_at: float | None = None  # set: heartbeat replies stop

    @property
    def closed(self) -> bool:
        return self._closed

    def heartbeat_age(self) -> float:
        return 0.0 if self.stalled_at is None else time.monotonic() - self.stalled_at

    async def set_auth(self, access_token: str) -> None:
        self.tokens.append(access_token)

    async def close(self) -> None:
        self._closed = True

    def server_close(self, why: str = "phx_close") -> None:
        self.handlers.on_close(why)

    def pg_ready(self) -> None:
        self.handlers.on_system(SystemEvent("postgres_changes", "ok", "Subscribed to PostgreSQL"))

    def change(self, table: str, typ: str, record: dict[str, Any] | None) -> None:
        self.handlers.on_change(ChangeEvent(table, typ, record, None, "2025-01-01T00:00:00Z"))


@dataclass
class FakeBackend:
    tasks: dict[str, Task] = field(default_factory=dict)
    staff: list[Staff] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)  # RpcResult or Exception, consumed in order
    calls: list[Call] = field(default_factory=list)
    links: list[FakeLink] = field(default_factory=list)
    connect_errors: list[Exception] = field(default_factory=list)
    auto_ready: bool = True
    fetches: int = 0
    fetch_gate: asyncio.Event | None = None
    connect_gate: asyncio.Event | None = None  # set: connect_channel may return
    connects: int = 0  # connect_channel calls begun
    on_fetch: Callable[[], None] | None = None
    session: Session | None = None
    sign_ins: int = 0
    refreshes: int = 0
    token_lifetime: float = 3600.0
    sign_in_error: Exception | None = None
    broadcasts: bool = False  # the database and server deliver broadcasts (probe answers)
    probes: list[str] = field(default_factory=list)

    @property
    def clock_skew(self) -> timedelta | None:
        return timedelta(0)

    def set_session(self, session: Session | None) -> None:
        self.session = session

    def _session(self) -> Session:
        n = self.sign_ins + self.refreshes
        return Session(
            f"tok{n}",
            f"rt{n}",
            time.time() + self.token_lifetime,
            "u",
            {"kitchen_id": "00000000-0000-4000-8000-0000000000b1"},
            self.token_lifetime,
        )

    async def sign_in(self, email: str, password: str) -> Session:
        if self.sign_in_error is not None:
            raise self.sign_in_error
        self.sign_ins += 1
        return self._session()

    async def refresh(self, refresh_token: str) -> Session:
        self.refreshes += 1
        return self._session()

    async def call_action(
        self,
        action: Action,
        task_id: str,
        staff_id: str,
        op_id: str,
        device: str,
        timeout: float,  # noqa: ASYNC109
        acted_at: datetime | None = None,
    ) -> RpcResult:
        self.calls.append(Call(action, task_id, staff_id, op_id, acted_at))
        if self.results:
            r = self.results.pop(0)
            if isinstance(r, Exception):
                raise r
            assert isinstance(r, RpcResult)
            return r
        t = self.tasks.get(task_id)
        return RpcResult(Outcome.APPLIED, t.to_row() if t else None, None)

    async def fetch_board(self, kitchen_id: str, timeout: float = 10.0) -> BoardSnapshot:  # noqa: ASYNC109
        self.fetches += 1
        if self.on_fetch is not None:
            self.on_fetch()
        if self.fetch_gate is not None:
            await self.fetch_gate.wait()
        return BoardSnapshot(
            [t.to_row() for t in self.tasks.values()], [s.to_row() for s in self.staff], None, None
        )

    async def connect_channel(
        self,
        kitchen_id: str,
        access_token: str,
        device: str,
        handlers: LinkHandlers,
        *,
        heartbeat_interval: float,
        timeout: float,  # noqa: ASYNC109
        tenant_id: str | None = None,
        feed: Feed = Feed.POSTGRES_CHANGES,
    ) -> FakeLink:
        self.connects += 1
        if self.connect_gate is not None:
            await self.connect_gate.wait()
        if self.connect_errors:
            raise self.connect_errors.pop(0)
        link = FakeLink(handlers, feed)
        self.links.append(link)
        if self.auto_ready and feed is Feed.POSTGRES_CHANGES:
            asyncio.get_running_loop().call_soon(link.pg_ready)
        return link

    async def feed_probe(self, nonce: str, timeout: float) -> None:  # noqa: ASYNC109
        self.probes.append(nonce)
        if not self.broadcasts:
            raise FeedUnavailable("no feed_probe in this schema")
        link = self.links[-1]
        if self.auto_ready and not link.closed:
            asyncio.get_running_loop().call_soon(
                link.handlers.on_broadcast, "caterking_probe", {"nonce": nonce}
            )

    async def aclose(self) -> None:
        pass


def transport(msg: str = "down", answered: bool = False) -> TransportError:
    return TransportError(msg, answered=answered)
