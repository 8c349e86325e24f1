"""A display's sync client in its own process: queue actions, then sync until killed.

usage: python -m tests.sync.integration.client_proc URL ANON EMAIL PASSWORD STORE STAFF TASK...
Prints "queued <n>" once the ops are on disk, then "retrying" once a connection attempt
has failed (the server is out of reach) and it waits to try again.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from caterking_display.backend import SupabaseBackend
from caterking_display.domain.actions import Action
from caterking_display.domain.clock import SystemClock
from caterking_display.domain.sync_status import SyncStatus
from caterking_display.store import BoardStore
from caterking_display.sync import SyncEngine, SyncSettings


async def main(argv: list[str]) -> None:
    url, anon, email, password, store_path, staff, *tasks = argv
    clock = SystemClock()
    store = BoardStore(Path(store_path), clock, "pass-killed")
    for t in tasks:
        store.enqueue(Action.CLAIM, t, staff)
    print(f"queued {len(store.pending_ops())}", flush=True)
    engine = SyncEngine(
        store,
        SupabaseBackend(url, anon),
        clock,
        SyncSettings(email=email, password=password, device="pass-killed", backoff_cap=1.0),
    )
    said: list[str] = []

    def on_status(status: SyncStatus) -> None:
        if status.last_error and status.next_retry_at is not None and not said:
            said.append("retrying")
            print("retrying", flush=True)

    engine.on_status(on_status)
    await engine.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
