"""Join/leave and connect/disconnect cycles leave no growth in tasks, registries or memory
(issue 3, item 5). A raw aiohttp client keeps the cycles fast."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from typing import Any

from .conftest import Stack, wait_for
from .wsclient import RawClient

JOIN_LEAVE_CYCLES = 1000
CONNECT_CYCLES = 200
# Allowed growth of traced memory over all cycles: far below one leaked channel or
# socket per cycle (each holds several KiB), above allocator and cache noise.
MEMORY_TOLERANCE = 256 * 1024


def is_ref(ref: str) -> Any:
    return lambda f: isinstance(f, dict) and f.get("ref") == ref and f["event"] == "phx_reply"


def subscribed(f: Any) -> bool:
    return isinstance(f, dict) and f.get("event") == "system"


def closed(f: Any) -> bool:
    return isinstance(f, dict) and f.get("event") == "phx_close"


def config(k_id: str, *, private: bool) -> dict[str, Any]:
    return {
        "private": private,
        "broadcast": {"self": False, "ack": False},
        "presence": {"key": "", "enabled": True},
        "postgres_changes": [
            {"event": "*", "schema": "public", "table": "tasks", "filter": f"kitchen_id=eq.{k_id}"}
        ],
    }


async def join_leave(c: RawClient, topic: str, cfg: dict[str, Any], tok: str) -> None:
    # Pipelined: the server handles one socket's frames in order.
    join = await c.join(topic, cfg, tok)
    await c.push(topic, "presence", {"event": "track", "payload": {"n": 1}}, join_ref=join)
    leave = await c.push(topic, "phx_leave", {}, join_ref=join)
    await c.recv_until(subscribed)  # reply, presence_state, then 'Subscribed to PostgreSQL'
    await c.recv_until(is_ref(leave))
    await c.recv_until(closed)


async def connect_cycle(stack: Stack, topic: str, cfg: dict[str, Any], tok: str) -> None:
    c = await RawClient.connect(stack.ws_url, stack.anon)
    try:
        join = await c.join(topic, cfg, tok)
        await c.recv_until(subscribed)
        track = await c.push(topic, "presence", {"event": "track", "payload": {}}, join_ref=join)
        await c.recv_until(is_ref(track))
    finally:
        await c.close()  # no phx_leave: the server cleans up on close


def measure(stack: Stack) -> tuple[int, dict[str, int], int]:
    gc.collect()
    return len(asyncio.all_tasks()), stack.service.stats(), tracemalloc.get_traced_memory()[0]


async def test_join_leave_and_connect_cycles_do_not_leak(rts: Stack) -> None:
    stack = rts
    k = stack.seed()
    tok = stack.device_token(k)
    topic = f"realtime:kitchen:{k.kitchen_id}"
    # Private joins run the RLS authorization (a few DB round trips): every 10th cycle.
    cfg = config(k.kitchen_id, private=True)
    public = config(k.kitchen_id, private=False)
    c = await RawClient.connect(stack.ws_url, stack.anon)
    tracemalloc.start(1)
    try:
        # Warm up caches (catalog, privileges, pools) before the baseline.
        for n in range(20):
            await join_leave(c, topic, cfg if n % 2 else public, tok)
        for _ in range(10):
            await connect_cycle(stack, topic, cfg, tok)
        await wait_for(lambda: stack.service.stats()["connections"] == 1, what="warm-up closes")
        tasks0, stats0, mem0 = measure(stack)
        assert stats0 == {
            "connections": 1,
            "channels": 0,
            "topics": 0,
            "presences": 0,
            "subscriptions": 0,
        }

        for n in range(JOIN_LEAVE_CYCLES):
            await join_leave(c, topic, cfg if n % 10 == 0 else public, tok)
        for n in range(CONNECT_CYCLES):
            await connect_cycle(stack, topic, cfg if n % 10 == 0 else public, tok)

        await wait_for(lambda: stack.service.stats() == stats0, what="registries back to baseline")
        await wait_for(lambda: len(asyncio.all_tasks()) <= tasks0, what="tasks back to baseline")
        tasks1, stats1, mem1 = measure(stack)
        assert stats1 == stats0
        assert tasks1 <= tasks0
        growth = mem1 - mem0
        assert growth < MEMORY_TOLERANCE, f"traced memory grew by {growth} bytes"
    finally:
        tracemalloc.stop()
        await c.close()
