"""The one way tests wait: on a condition, with a deadline — never a bare sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def until(
    cond: Callable[[], object],
    within: float = 3.0,
    *,
    pilot: Any | None = None,
    step: float = 0.01,
) -> None:
    """Until ``cond()`` is true; fails after ``within`` seconds.

    With a Textual ``pilot``, each round lets the app process its messages
    (``pilot.pause()``), so a condition on the screen sees what the app has done;
    otherwise each round yields to the event loop for ``step`` seconds.
    """
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within} s")
        if pilot is not None:
            await pilot.pause()
        else:
            await asyncio.sleep(step)


def until_blocking(
    cond: Callable[[], object], within: float = 3.0, *, what: str = "condition"
) -> None:
    """``until`` for plain (not async) tests that watch another process: each round
    sleeps 50 ms, the only sleep a test needs, between looks at ``cond``."""
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {within} s")
        time.sleep(0.05)
