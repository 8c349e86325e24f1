"""Closing a realtime link always ends, whatever the client library's tasks do."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from caterking_display.backend import realtime_link as rl
from caterking_display.backend.types import LinkHandlers


async def test_close_does_not_wait_forever_for_a_task_that_ignores_its_cancellation() -> None:
    """Seen once in a loaded run: a demo board closed mid-join never exited. Whatever the
    client library's tasks do with a cancel, closing the link ends in bounded time."""

    def ignore(*_a: Any) -> None:
        return None

    handlers = LinkHandlers(
        on_change=ignore, on_presence=ignore, on_broadcast=ignore, on_system=ignore, on_close=ignore
    )
    client = rl._Client("ws://127.0.0.1:9/realtime/v1", "anon", hb_interval=1, timeout=1)
    link = rl.RealtimeLink(client, handlers, "wall")
    stop = asyncio.Event()

    async def stubborn() -> None:
        while not stop.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue  # swallows the cancel, as a misbehaving library task might

    client._listen_task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)  # it runs (a task cancelled before it starts just ends)
    t0 = time.monotonic()
    await link.close()
    assert time.monotonic() - t0 < rl.CLOSE_WAIT_S + 1
    stop.set()
    client._listen_task = None
