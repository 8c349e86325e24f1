"""BoardStore: the display's optimistic local store (confirmed rows + durable outbox).

- Confirmed server truth (tasks by id and version, staff, when the board was last
  confirmed) and the outbox of the chef's intents are kept apart, both in one SQLite
  file, so either can be wiped and rebuilt.
- The view is the confirmed rows with the pending ops predicted on top
  (``domain.actions.predict``). It is kept up to date incrementally: a change
  recomputes only the ids it touches, and listeners hear exactly which ids changed.
- An intent is on disk (``synchronous=FULL``) before ``enqueue`` returns, and leaves
  the outbox only when the server has answered it.

No Textual and no network here; time comes from the injected clock.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from caterking_display.domain.actions import Action, Outcome
from caterking_display.domain.board import (
    BoardView,
    FailedAction,
    Notice,
    NoticeKind,
    PendingOp,
    ViewTask,
    Winner,
)
from caterking_display.domain.clock import Clock
from caterking_display.domain.estimates import Estimate
from caterking_display.domain.task import Staff, Status, Task
from caterking_display.store import meta_keys
from caterking_display.store import overlay as _overlay
from caterking_display.store import salvage as _salvage
from caterking_display.store.persistence import Persistence, StoreFormatError, StoreTooNewError
from caterking_display.store.salvage import DamageCause, Salvage, StoreRecovery

log = logging.getLogger(__name__)

STAFF_CHANGED = "__staff__"
"""The id in a changed-ids set that means "the staff list changed"."""

ESTIMATES_CHANGED = "__estimates__"
"""The id in a changed-ids set that means "many estimates changed" (after a full fetch)."""

_T = TypeVar("_T")

ChangeListener = Callable[[frozenset[str]], None]
NoticeListener = Callable[[Notice], None]


OPEN = frozenset({Status.PENDING, Status.CLAIMED})  # what a fetch returns at any age


class BoardStore:
    """Confirmed rows + pending ops, persisted in SQLite (or in memory when path is None).

    Thread-safe: every method takes one lock. Listeners are called synchronously on
    the thread that made the change, after the lock is released.
    """

    def __init__(
        self,
        path: Path | None,
        clock: Clock,
        device: str,
        *,
        integrity_check: bool = False,
        salvaged: tuple[Salvage, StoreRecovery] | None = None,
    ) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._db = Persistence(path, check=integrity_check)
        try:
            if salvaged is not None:  # a fresh file taking over from a damaged one
                _salvage.install(self._db, *salvaged)
            loaded = self._db.load()
            recovery = _salvage.load_report(self._db)
        except BaseException:
            self._db.close()
            raise
        self._confirmed: dict[str, Task] = loaded.tasks
        self._tombstones: dict[str, int] = loaded.tombstones
        self._staff: dict[str, Staff] = loaded.staff
        self._ops: dict[str, PendingOp] = {op.op_id: op for op in loaded.ops}
        self._ops_by_task: dict[str, list[str]] = {}
        for op in loaded.ops:
            self._ops_by_task.setdefault(op.task_id, []).append(op.op_id)
        self._failed: list[FailedAction] = loaded.failed
        # Ops handed to the server and not yet answered: they can no longer be withdrawn.
        self._sending: set[str] = set()
        self._meta: dict[str, str] = loaded.meta
        self._device = self._meta.get(meta_keys.DEVICE_NAME) or device
        self._saved_at: datetime | None = loaded.saved_at
        self._estimates: dict[tuple[str, str], Estimate] = dict(loaded.estimates)
        self._view: dict[str, ViewTask] = {}
        for tid in self._confirmed:
            vt = _overlay.view_task(self._confirmed[tid], self._ops_for(tid))
            if vt is not None:
                self._view[tid] = vt
        self._cached: BoardView | None = None
        self._listeners: list[ChangeListener] = []
        self._notice_listeners: list[NoticeListener] = []
        self._closed = False
        self._recovery: StoreRecovery | None = recovery

    @classmethod
    def open(cls, path: Path, clock: Clock, device: str) -> BoardStore:
        """Open the store file; never raises.

        A corrupt or unreadable file (or one from a newer app) is moved aside to
        ``<name>.corrupt-<timestamp>``; its unsent actions, not-applied list and meta are
        salvaged into a fresh file (``store.salvage``), and ``recovery`` reports what
        was kept and lost until ``acknowledge_recovery()``. If the fresh file cannot be
        created, the store runs in memory with what was salvaged (logged as an error)
        and the damaged file is put back, so the next start salvages it again.
        """
        try:
            return cls(path, clock, device, integrity_check=True)
        except (StoreFormatError, sqlite3.Error) as exc:
            log.warning("store: %s is unreadable (%s); moving it aside", path, exc)
            too_new = isinstance(exc, StoreTooNewError)
            cause = DamageCause.NEWER_VERSION if too_new else DamageCause.CORRUPT
        except OSError as exc:
            log.error("store: cannot open %s (%s); keeping the board in memory only", path, exc)
            return cls(None, clock, device)
        now = clock.now()
        moved: Path | None = None
        try:
            moved = _move_aside(path, now)
            log.warning("store: unreadable store saved as %s; salvaging it", moved)
        except OSError as exc:
            log.error("store: cannot move %s aside (%s); salvaging it in place", path, exc)
        found = _salvage.salvage_file(moved or path)
        if moved is not None:
            report = found.report(at=now, cause=cause, moved_to=moved, in_memory=False)
            try:
                return cls(path, clock, device, integrity_check=True, salvaged=(found, report))
            except (OSError, StoreFormatError, sqlite3.Error) as exc:
                log.error("store: cannot start a fresh %s (%s); keeping it in memory", path, exc)
                if _put_back(moved, path):  # so the next start salvages it again
                    moved = None
        report = found.report(at=now, cause=cause, moved_to=moved, in_memory=True)
        try:
            return cls(None, clock, device, salvaged=(found, report))
        except Exception:  # pragma: no cover - an in-memory database does not fail
            log.exception("store: could not keep the salvaged rows even in memory")
            return cls(None, clock, device)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> BoardStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- confirmed server truth ---------------------------------------------------

    def apply_server_task(self, task: Task) -> bool:
        """Take a server row; ignored (False) unless newer than the known version."""
        with self._lock:
            if not self._is_newer(task):
                return False

            now = self._clock.now()

            def write(c: sqlite3.Connection) -> None:
                self._db.upsert_task(c, task)
                if task.id in self._tombstones:
                    self._db.remove_tombstones(c, [task.id])
                self._db.set_saved_at(c, now)

            self._write(write, durable=False, best_effort=True)
            self._set_confirmed(task)
            self._note_server_change(now)
            changed = self._refresh([task.id])
        self._emit(changed)
        return True

    def apply_server_delete(self, task_id: str) -> bool:
        """The server deleted a task; False if it was not known."""
        with self._lock:
            old = self._confirmed.get(task_id)
            if old is None:
                return False

            now = self._clock.now()

            def write(c: sqlite3.Connection) -> None:
                self._db.delete_tasks(c, [task_id])
                self._db.add_tombstone(c, task_id, old.version)
                self._db.set_saved_at(c, now)

            self._write(write, durable=False, best_effort=True)
            del self._confirmed[task_id]
            self._tombstones[task_id] = old.version
            self._note_server_change(now)
            changed = self._refresh([task_id])
        self._emit(changed)
        return True

    def forget_finished(self, before: datetime) -> int:
        """Drop finished (done, cancelled) tasks last changed before ``before`` (the history window:
        what a fetch would no longer return), so a board that stays connected for days
        holds what a fresh one would. Tasks with actions still waiting stay. Not a server
        delete: a later change of such a task brings it back. How many went."""
        with self._lock:
            old = [
                tid
                for tid, t in self._confirmed.items()
                if t.status not in OPEN and t.updated_at < before and tid not in self._ops_by_task
            ]
            if not old:
                return 0
            self._write(lambda c: self._db.delete_tasks(c, old), durable=False, best_effort=True)
            for tid in old:
                del self._confirmed[tid]
            changed = self._refresh(old)
        self._emit(changed)
        return len(old)

    def apply_server_staff(self, staff: Staff) -> bool:
        """Take a staff row; False if it is the same as the one known."""
        with self._lock:
            if self._staff.get(staff.id) == staff:
                return False
            self._write(lambda c: self._db.upsert_staff(c, staff), durable=False, best_effort=True)
            self._staff[staff.id] = staff
            self._cached = None
        self._emit({STAFF_CHANGED})
        return True

    def replace_board(
        self,
        tasks: list[Task],
        staff: list[Staff],
        estimates: list[Estimate] | None = None,
    ) -> None:
        """A full fetch from the server (resync).

        Rows merge by version (an id never goes backwards; an id deleted by the server
        stays deleted unless the fetch has a newer version); ids absent from ``tasks``
        are dropped; staff is replaced; estimates (when given) are replaced; ``saved_at``
        becomes now. Pending ops stay on top.
        """
        with self._lock:
            incoming: dict[str, Task] = {}
            for t in tasks:
                prev = incoming.get(t.id)
                if prev is None or t.version > prev.version:
                    incoming[t.id] = t
            newer = [t for t in incoming.values() if self._is_newer(t)]
            dropped = [tid for tid in self._confirmed if tid not in incoming]
            new_staff = {s.id: s for s in staff}
            staff_changed = new_staff != self._staff
            new_est = None if estimates is None else {e.key: e for e in estimates}
            est_changed = new_est is not None and new_est != self._estimates
            now = self._clock.now()

            def write(c: sqlite3.Connection) -> None:
                for t in newer:
                    self._db.upsert_task(c, t)
                self._db.delete_tasks(c, dropped)
                self._db.remove_tombstones(c, [t.id for t in newer if t.id in self._tombstones])
                if staff_changed:
                    self._db.replace_staff(c, new_staff.values())
                if est_changed and new_est is not None:
                    self._db.replace_estimates(c, new_est.values())
                self._db.set_saved_at(c, now)

            self._write(write, durable=False, best_effort=True)
            if est_changed and new_est is not None:
                self._estimates = new_est
            for t in newer:
                self._set_confirmed(t)
            for tid in dropped:
                del self._confirmed[tid]
            if staff_changed:
                self._staff = new_staff
            self._saved_at = now
            self._cached = None
            changed = self._refresh([t.id for t in newer] + dropped)
            if staff_changed:
                changed.add(STAFF_CHANGED)
            if est_changed:
                changed.add(ESTIMATES_CHANGED)
        self._emit(changed)

    def apply_server_estimate(self, est: Estimate) -> bool:
        """A learned estimate changed on the server. Listeners hear the ids of the tasks
        it applies to (their cards recompute; no task row changed). False if unchanged."""
        with self._lock:
            if self._estimates.get(est.key) == est:
                return False
            now = self._clock.now()

            def write(c: sqlite3.Connection) -> None:
                self._db.upsert_estimate(c, est)
                self._db.set_saved_at(c, now)

            self._write(write, durable=False, best_effort=True)
            self._estimates[est.key] = est
            self._note_server_change(now)
            kind, station = est.key
            affected = {
                tid
                for tid, vt in self._view.items()
                if vt.task.kind == kind and vt.task.station == station
            }
        self._emit(affected)
        return True

    def estimate(self, kind: str | None, station: str) -> Estimate | None:
        """The learned estimate for a task kind at a station, if the server has one."""
        if kind is None:
            return None
        with self._lock:
            return self._estimates.get((kind, station))

    def estimates(self) -> dict[tuple[str, str], Estimate]:
        with self._lock:
            return dict(self._estimates)

    def _note_server_change(self, now: datetime) -> None:
        # The board held every server change up to now: the Offline banner's "saved at"
        # must not fall back to the last full reload while realtime kept it current.
        self._saved_at = now
        self._cached = None

    def mark_confirmed(self) -> None:
        """Record that the whole board is confirmed as of now (``saved_at``) without a
        fetch — e.g. while realtime is live and keeping every row current."""
        with self._lock:
            now = self._clock.now()
            self._write(lambda c: self._db.set_saved_at(c, now), durable=False, best_effort=True)
            self._saved_at = now
            self._cached = None

    # --- outbox ---------------------------------------------------------------------

    def enqueue(self, action: Action, task_id: str, staff_id: str) -> PendingOp:
        """Queue a chef's intent. It is committed to disk before this returns (and before
        any listener hears of it); a disk error propagates and nothing is shown."""
        with self._lock:
            op = PendingOp(
                op_id=str(uuid.uuid4()),
                action=Action(action),
                task_id=task_id,
                staff_id=staff_id,
                device=self._device,
                created_at=self._clock.now(),
            )
            self._write(lambda c: self._db.insert_op(c, op), durable=True, best_effort=False)
            self._ops[op.op_id] = op
            self._ops_by_task.setdefault(task_id, []).append(op.op_id)
            changed = self._refresh([task_id])
        self._emit(changed)
        return op

    def pending_ops(self) -> list[PendingOp]:
        """The outbox, oldest first."""
        with self._lock:
            return list(self._ops.values())

    def next_op(self) -> PendingOp | None:
        with self._lock:
            return next(iter(self._ops.values()), None)

    def mark_sending(self, op_id: str) -> bool:
        """The op is being handed to the server: from now on it cannot be withdrawn (the
        server may apply it even if its answer is lost), only compensated. False when the
        op is no longer queued (withdrawn by an undo meanwhile): do not send it."""
        with self._lock:
            if op_id not in self._ops:
                return False
            self._sending.add(op_id)
            return True

    def can_withdraw(self, op_id: str) -> bool:
        """True while the op is queued and has never been handed to the server."""
        with self._lock:
            op = self._ops.get(op_id)
            return op is not None and op.attempts == 0 and op_id not in self._sending

    def first_send_in_flight(self, op_id: str) -> bool:
        """True while the op's first send is on its way: whether it can still be
        withdrawn is known when that send ends (refused: yes; answered or maybe
        delivered: no)."""
        with self._lock:
            op = self._ops.get(op_id)
            return op is not None and op.attempts == 0 and op_id in self._sending

    def withdraw(self, op_ids: Iterable[str]) -> bool:
        """Take ops back out of the outbox before they were ever sent (undo).

        All or nothing: if any of them was already handed to the server (or answered),
        nothing is withdrawn and this returns False; the caller then undoes by a
        compensating action instead. The removal is on disk before this returns.
        """
        ids = list(dict.fromkeys(op_ids))
        with self._lock:
            if not ids or not all(self.can_withdraw(i) for i in ids):
                return False

            def write(c: sqlite3.Connection) -> None:
                for i in ids:
                    self._db.delete_op(c, i)

            self._write(write, durable=True, best_effort=False)
            affected: list[str] = []
            for i in ids:
                op = self._ops.pop(i)
                queue = self._ops_by_task[op.task_id]
                queue.remove(i)
                if not queue:
                    del self._ops_by_task[op.task_id]
                affected.append(op.task_id)
            changed = self._refresh(affected)
        self._emit(changed)
        return True

    def record_attempt(self, op_id: str, error: str | None, *, reached_server: bool = True) -> None:
        """A send failed in transport: keep the error; the op stays queued.

        ``attempts`` counts the sends that may have reached the server (a reply lost on
        the way back); a send that certainly never left (no connection) is not counted,
        so the op can still be withdrawn by an undo."""
        with self._lock:
            self._sending.discard(op_id)
            op = self._ops.get(op_id)
            if op is None:
                return
            updated = replace(
                op,
                attempts=op.attempts + (1 if reached_server else 0),
                last_error=error if error is not None else op.last_error,
            )
            self._write(
                lambda c: self._db.update_op_attempts(c, updated), durable=True, best_effort=True
            )
            self._ops[op_id] = updated

    def resolve_op(
        self, op_id: str, outcome: Outcome, task: Task | None, reason: str | None
    ) -> Notice | None:
        """The server answered an op.

        applied / duplicate: the op leaves the outbox and ``task`` (if given) is applied.
        conflict: same, so the card snaps back to server truth; returns a CONFLICT notice
        naming who won. rejected: the op leaves the outbox; returns a REJECTED notice.
        Conflicts and rejections are both kept in the failed list (persisted, with the
        notice's message), so one missed on screen can still be seen. A notice is also
        sent to notice listeners.
        An unknown ``op_id`` (already resolved) only applies ``task``.
        """
        outcome = Outcome(outcome)
        with self._lock:
            op = self._ops.get(op_id)
            take_task = task is not None and self._is_newer(task)
            now = self._clock.now()
            notice: Notice | None = None
            failed: FailedAction | None = None
            if op is not None and outcome in (Outcome.CONFLICT, Outcome.REJECTED):
                base = self._confirmed.get(op.task_id)
                title_src = task if task is not None else base
                title = title_src.title if title_src is not None else None
                winner: Winner | None = None
                if outcome is Outcome.CONFLICT:
                    # Who won: the newest row we know of (the answer, or a later event).
                    shown = task if take_task or base is None else base
                    kind = NoticeKind.CONFLICT
                    winner = Winner.of(shown, self._staff) if shown is not None else None
                    word: str | None = reason or "conflict"
                else:
                    kind = NoticeKind.REJECTED
                    word = reason
                notice = Notice(
                    kind=kind,
                    task_id=op.task_id,
                    at=now,
                    action=op.action,
                    staff_id=op.staff_id,
                    task_title=title,
                    reason=reason,
                    winner=winner,
                )
                failed = FailedAction(
                    op=op,
                    outcome=outcome.value,
                    reason=word,
                    task_title=title,
                    at=now,
                    winner=winner,
                )

            def write(c: sqlite3.Connection) -> None:
                if op is not None:
                    self._db.delete_op(c, op.op_id)
                if failed is not None:
                    self._db.insert_failed(c, failed)
                if take_task and task is not None:
                    self._db.upsert_task(c, task)
                    if task.id in self._tombstones:
                        self._db.remove_tombstones(c, [task.id])
                    self._db.set_saved_at(c, now)

            self._sending.discard(op_id)
            if op is not None or take_task:
                self._write(write, durable=op is not None, best_effort=True)
            affected: list[str] = []
            if op is not None:
                del self._ops[op.op_id]
                ids = self._ops_by_task[op.task_id]
                ids.remove(op.op_id)
                if not ids:
                    del self._ops_by_task[op.task_id]
                affected.append(op.task_id)
            if failed is not None:
                self._failed.append(failed)
            if take_task and task is not None:
                self._set_confirmed(task)
                self._note_server_change(now)
                affected.append(task.id)
            changed = self._refresh(affected)
        self._emit(changed)
        if notice is not None:
            self._emit_notice(notice)
        return notice

    def failed_actions(self) -> list[FailedAction]:
        with self._lock:
            return list(self._failed)

    def clear_failed_actions(self) -> None:
        with self._lock:
            self._write(self._db.clear_failed, durable=True, best_effort=False)
            self._failed.clear()

    # --- view -------------------------------------------------------------------------

    def view(self) -> BoardView:
        """The board as the chef should see it (cached until something changes).

        Cancelled tasks are not in ``tasks``; done ones are. Treat it as read-only.
        """
        with self._lock:
            if self._cached is None:
                self._cached = BoardView(
                    tasks=dict(self._view), staff=dict(self._staff), saved_at=self._saved_at
                )
            return self._cached

    def get(self, task_id: str) -> ViewTask | None:
        with self._lock:
            return self._view.get(task_id)

    def confirmed(self, task_id: str) -> Task | None:
        """The last row the server confirmed for ``task_id`` (cancelled ones too)."""
        with self._lock:
            return self._confirmed.get(task_id)

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        """Hear the ids whose view changed (``STAFF_CHANGED`` for staff); returns unsubscribe."""
        with self._lock:
            self._listeners.append(listener)
        return self._unsubscriber(self._listeners, listener)

    def notices_subscribe(self, listener: NoticeListener) -> Callable[[], None]:
        with self._lock:
            self._notice_listeners.append(listener)
        return self._unsubscriber(self._notice_listeners, listener)

    @property
    def saved_at(self) -> datetime | None:
        """When the confirmed board was last confirmed by the server (persisted)."""
        with self._lock:
            return self._saved_at

    # --- meta -----------------------------------------------------------------------

    @property
    def device_name(self) -> str:
        """The name this board's actions are recorded under (what ``claimed_device``
        says for a task claimed here)."""
        with self._lock:
            return self._device

    def adopt_device_name(self, name: str) -> None:
        """The server records this board's actions as ``name`` (its account's device
        name): predict with it, and keep it for offline restarts. Every card is
        redrawn, since "claimed here" may change."""
        with self._lock:
            if self._device == name and self._meta.get(meta_keys.DEVICE_NAME) == name:
                return
            self._write(
                lambda c: self._db.set_meta(c, meta_keys.DEVICE_NAME, name),
                durable=True,
                best_effort=True,
            )
            self._meta[meta_keys.DEVICE_NAME] = name
            self._device = name
            changed = set(self._view)
        self._emit(changed)

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            return self._meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            if self._meta.get(key) == value:
                return
            self._write(lambda c: self._db.set_meta(c, key, value), durable=True, best_effort=False)
            self._meta[key] = value

    # --- recovery from a damaged file ------------------------------------------------

    @property
    def recovery(self) -> StoreRecovery | None:
        """What was salvaged when a damaged file was replaced (None: nothing to report).
        Kept across restarts until ``acknowledge_recovery()``."""
        with self._lock:
            return self._recovery

    def acknowledge_recovery(self) -> None:
        """Someone has seen the recovery report: forget it (on disk too)."""
        with self._lock:
            if self._recovery is None:
                return
            self._write(
                lambda c: self._db.delete_state(c, _salvage.RECOVERY_STATE_KEY),
                durable=True,
                best_effort=True,
            )
            self._recovery = None

    # --- internals --------------------------------------------------------------------

    def _is_newer(self, task: Task) -> bool:
        cur = self._confirmed.get(task.id)
        known = cur.version if cur is not None else self._tombstones.get(task.id)
        return known is None or task.version > known

    def _set_confirmed(self, task: Task) -> None:
        self._confirmed[task.id] = task
        self._tombstones.pop(task.id, None)

    def _ops_for(self, task_id: str) -> list[PendingOp]:
        return [self._ops[i] for i in self._ops_by_task.get(task_id, ())]

    def _refresh(self, ids: Iterable[str]) -> set[str]:
        """Recompute the view of ``ids``; return those whose view changed."""
        changed: set[str] = set()
        for tid in set(ids):
            new = _overlay.view_task(self._confirmed.get(tid), self._ops_for(tid))
            old = self._view.get(tid)
            if new == old:
                continue
            if new is None:
                del self._view[tid]
            else:
                self._view[tid] = new
            changed.add(tid)
        if changed:
            self._cached = None
        return changed

    def _write(
        self, fn: Callable[[sqlite3.Connection], None], *, durable: bool, best_effort: bool
    ) -> None:
        """Run ``fn`` in one transaction. Best-effort writes (server truth, which a resync
        rebuilds) log a disk error and carry on in memory; others raise it."""
        try:
            with self._db.transaction(durable=durable) as c:
                fn(c)
        except sqlite3.DatabaseError:
            if not best_effort:
                raise
            log.exception("store: could not save a change; keeping it in memory")

    def _emit(self, changed: set[str]) -> None:
        if not changed:
            return
        ids = frozenset(changed)
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(ids)
            except Exception:
                log.exception("store: change listener %r failed", listener)

    def _emit_notice(self, notice: Notice) -> None:
        with self._lock:
            listeners = list(self._notice_listeners)
        for listener in listeners:
            try:
                listener(notice)
            except Exception:
                log.exception("store: notice listener %r failed", listener)

    def _unsubscriber(self, listeners: list[_T], listener: _T) -> Callable[[], None]:
        def unsubscribe() -> None:
            with self._lock:
                try:
                    listeners.remove(listener)
                except ValueError:
                    pass

        return unsubscribe


def _move_aside(path: Path, now: datetime) -> Path:
    """Rename ``path`` (and its -wal/-shm files) to ``<name>.corrupt-<timestamp>``."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    if path.exists():
        path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


def _put_back(moved: Path, path: Path) -> bool:
    """Undo ``_move_aside`` after a fresh file could not be made (dropping what was
    made of it, which holds nothing the damaged file lacks); False if that fails."""
    try:
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            side = moved.with_name(moved.name + suffix)
            if side.exists():
                side.rename(path.with_name(path.name + suffix))
        moved.rename(path)
    except OSError:
        log.exception("store: could not put %s back as %s", moved, path)
        return False
    return True
