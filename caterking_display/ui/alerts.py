"""A sound for a new rush task: an optional command (e.g. `aplay /usr/share/sounds/rush.wav`).

The command runs in the background and never blocks the board: at most one runs at a
time (a second rush while it still plays is not queued up behind it), it gets no
terminal (stdin/stdout/stderr are closed), and it is killed if it runs longer than
``timeout`` seconds or when the board closes. A command that cannot start is logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

log = logging.getLogger(__name__)


class CommandAlert:
    def __init__(self, argv: Sequence[str] | None, *, timeout: float = 30.0) -> None:
        self.argv = tuple(argv or ())
        self.timeout = timeout
        self.started = 0  # commands started (tests, diagnostics)
        self.skipped = 0  # alerts dropped because the previous one was still playing
        self._task: asyncio.Task[None] | None = None
        self._failed_once = False

    @property
    def enabled(self) -> bool:
        return bool(self.argv)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def fire(self) -> None:
        """Start the command now (from the event loop); returns at once."""
        if not self.argv:
            return
        if self.running:
            self.skipped += 1
            return
        self.started += 1
        self._task = asyncio.get_running_loop().create_task(self._run(), name="rush-alert")

    async def _run(self) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl+C on the board's terminal is not its business
            )
        except OSError as exc:
            if not self._failed_once:
                self._failed_once = True
                log.error("alert_command %r could not start: %s", self.argv[0], exc)
            return
        try:
            await asyncio.wait_for(proc.wait(), self.timeout)
        except TimeoutError:
            log.warning("alert_command ran over %.0f s; stopped it", self.timeout)
            await _kill(proc)
        except asyncio.CancelledError:
            await _kill(proc)
            raise

    async def aclose(self) -> None:
        """Stop a command still running (the board is closing)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(Exception):
        await proc.wait()
