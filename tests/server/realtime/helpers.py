"""A thin recorder around realtime-py channels for the conformance tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from realtime import AsyncRealtimeChannel, AsyncRealtimeClient

from .conftest import Stack, wait_for


def plain(obj: Any) -> Any:
    """realtime-py hands pydantic models to some callbacks and dicts to others."""
    dump = getattr(obj, "model_dump", None)
    return dump() if dump is not None else obj


@dataclass
class Recorder:
    client: AsyncRealtimeClient
    channel: AsyncRealtimeChannel
    changes: list[dict[str, Any]] = field(default_factory=list)
    system: list[dict[str, Any]] = field(default_factory=list)
    states: list[tuple[str, str | None]] = field(default_factory=list)
    broadcasts: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, typ: str) -> list[dict[str, Any]]:
        return [c for c in self.changes if str(c["data"]["type"].value) == typ]

    @property
    def subscribed_pg(self) -> bool:
        return any(s.get("message") == "Subscribed to PostgreSQL" for s in self.system)

    def state_names(self) -> list[str]:
        return [s for s, _ in self.states]


async def subscribe_changes(
    stack: Stack,
    token: str,
    *,
    topic: str = "board",
    bindings: list[dict[str, Any]] | None = None,
    private: bool = False,
    wait_pg: bool = True,
    client: AsyncRealtimeClient | None = None,
) -> Recorder:
    """Join `topic` with postgres_changes bindings and wait for 'Subscribed to PostgreSQL'."""
    if client is None:
        client = AsyncRealtimeClient(stack.ws_url, stack.anon, auto_reconnect=False)
        await client.connect()
        await client.set_auth(token)
    params: dict[str, Any] = {"config": {"private": private}} if private else {}
    channel = client.channel(topic, params or None)
    rec = Recorder(client, channel)
    for b in bindings if bindings is not None else [{"event": "*", "table": "tasks"}]:
        channel.on_postgres_changes(
            b.get("event", "*"),
            lambda p: rec.changes.append(plain(p)),
            table=b.get("table"),
            schema=b.get("schema", "public"),
            filter=b.get("filter"),
            select=b.get("select"),
        )
    channel.on_system(lambda p: rec.system.append(plain(p)))
    await channel.subscribe(lambda s, e: rec.states.append((s.value, str(e) if e else None)))
    assert rec.state_names()[-1] == "SUBSCRIBED", rec.states
    if wait_pg:
        await wait_for(lambda: rec.subscribed_pg, what="Subscribed to PostgreSQL")
    return rec
