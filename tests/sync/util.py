"""Waiting on conditions with a deadline (deterministic tests: never a bare sleep)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(cond: Callable[[], bool], within: float = 3.0, step: float = 0.01) -> None:
    """Poll ``cond`` until true; TimeoutError after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not cond():  # noqa: ASYNC110 - conditions span threads, stores and sockets
            await asyncio.sleep(step)
