"""Catch-up by pull: after every (re)join, fetch the kitchen's board over REST and merge
it by version. Realtime events that arrive while the fetch is in flight are buffered
and applied after it (version-gated, so older rows never win), never lost."""

from __future__ import annotations

import logging

from caterking_display.backend.types import Backend, ChangeEvent
from caterking_display.domain.estimates import Estimate
from caterking_display.domain.task import RowError, Staff, Task
from caterking_display.store import BoardStore, meta_keys

log = logging.getLogger(__name__)


def apply_event(store: BoardStore, ev: ChangeEvent) -> bool:
    """Apply one postgres_changes event to the store; malformed ones are logged and ignored.

    Returns True if the store changed."""
    if ev.errors:
        log.warning(
            "sync: server reported errors on a %s %s event: %s", ev.table, ev.type, ev.errors
        )
    try:
        if ev.table == "tasks":
            if ev.type in ("INSERT", "UPDATE"):
                if ev.record is None:
                    raise RowError("no record")
                return store.apply_server_task(Task.from_row(ev.record))
            if ev.type == "DELETE":
                old = ev.old_record or {}
                tid = old.get("id")
                if not isinstance(tid, str):
                    raise RowError("DELETE without an id")
                return store.apply_server_delete(tid)
        elif ev.table == "staff":
            if ev.type in ("INSERT", "UPDATE"):
                if ev.record is None:
                    raise RowError("no record")
                return store.apply_server_staff(Staff.from_row(ev.record))
            return False  # staff rows are deactivated, not deleted; nothing to do
        elif ev.table == "prep_estimates":
            if ev.type in ("INSERT", "UPDATE"):
                if ev.record is None:
                    raise RowError("no record")
                return store.apply_server_estimate(Estimate.from_row(ev.record))
            return False  # estimates are replaced, not deleted, in normal use
        log.warning("sync: ignored an unexpected %s event on %r", ev.type, ev.table)
    except RowError as exc:
        log.warning("sync: ignored a malformed %s %s event: %s", ev.table, ev.type, exc)
    except Exception:
        log.exception("sync: could not apply a %s %s event; ignored", ev.table, ev.type)
    return False


class Resync:
    def __init__(self, store: BoardStore, backend: Backend) -> None:
        self._store = store
        self._backend = backend
        self._buffer: list[ChangeEvent] | None = None
        self.kitchen: dict[str, object] | None = None

    @property
    def buffering(self) -> bool:
        return self._buffer is not None

    def on_change(self, ev: ChangeEvent) -> None:
        """Realtime event: applied now, or buffered while a fetch is in flight."""
        if self._buffer is not None:
            self._buffer.append(ev)
        else:
            apply_event(self._store, ev)

    def begin(self) -> None:
        """Start buffering (call before the channel is joined, so nothing slips through)."""
        if self._buffer is None:
            self._buffer = []

    def end(self) -> None:
        """Stop buffering and apply what was buffered, in arrival order."""
        buf, self._buffer = self._buffer, None
        for ev in buf or ():
            apply_event(self._store, ev)

    def _remember_kitchen(self) -> None:
        """Keep the kitchen's name and zone so a display starting offline shows them."""
        if not self.kitchen:
            return
        for key, meta in (
            ("name", meta_keys.KITCHEN_NAME),
            ("timezone", meta_keys.KITCHEN_TIMEZONE),
        ):
            value = self.kitchen.get(key)
            if isinstance(value, str) and value:
                try:
                    self._store.set_meta(meta, value)
                except Exception as exc:  # a full disk must not stop the sync
                    log.warning("sync: could not save %s: %s", meta, exc)

    async def fetch(self, kitchen_id: str, timeout: float) -> None:  # noqa: ASYNC109
        """Fetch the board and merge it, then apply buffered events. Errors propagate
        (buffered events are applied either way)."""
        self.begin()
        try:
            snap = await self._backend.fetch_board(kitchen_id, timeout)
            tasks: list[Task] = []
            for row in snap.tasks:
                try:
                    tasks.append(Task.from_row(row))
                except RowError as exc:
                    log.warning("sync: skipped a malformed task row from the fetch: %s", exc)
            staff: list[Staff] = []
            for row in snap.staff:
                try:
                    staff.append(Staff.from_row(row))
                except RowError as exc:
                    log.warning("sync: skipped a malformed staff row from the fetch: %s", exc)
            estimates: list[Estimate] | None = None
            if snap.estimates is not None:
                estimates = []
                for row in snap.estimates:
                    try:
                        estimates.append(Estimate.from_row(row))
                    except RowError as exc:
                        log.warning("sync: skipped a malformed estimate row: %s", exc)
            self.kitchen = dict(snap.kitchen) if snap.kitchen else None
            self._remember_kitchen()  # before the merge, whose change notice reports it
            self._store.replace_board(tasks, staff, estimates)
        finally:
            self.end()
