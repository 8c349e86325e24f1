"""An in-memory stand-in for caterking_display.store.BoardStore (the UI's BoardSource).

Confirmed rows plus a FIFO of pending ops; the view applies the ops' predictions on top,
as the real store does. Test helpers play the server: confirm, conflict, reject.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

from caterking_display.domain.actions import Action, predict
from caterking_display.domain.board import (
    BoardView,
    FailedAction,
    Notice,
    NoticeKind,
    PendingOp,
    ViewTask,
)
from caterking_display.domain.clock import Clock
from caterking_display.domain.task import Staff, Task


class FakeStore:
    def __init__(
        self,
        tasks: Iterable[Task],
        staff: Iterable[Staff],
        clock: Clock,
        device: str = "test-display",
    ) -> None:
        self.clock = clock
        self.device = device
        self.confirmed: dict[str, Task] = {t.id: t for t in tasks}
        self.staff: dict[str, Staff] = {s.id: s for s in staff}
        self.ops: list[PendingOp] = []
        self.failed: list[FailedAction] = []
        self.meta: dict[str, str] = {}
        self.saved_at = clock.now()
        self._listeners: list[Callable[[frozenset[str]], None]] = []
        self._notice_listeners: list[Callable[[Notice], None]] = []
        self._op_ids = (f"op-{n}" for n in itertools.count(1))
        self.enqueued: list[tuple[Action, str, str]] = []

    # ---- BoardSource
    def _view_task(self, task_id: str) -> ViewTask | None:
        task = self.confirmed.get(task_id)
        if task is None:
            return None
        pending = False
        last: Action | None = None
        for op in self.ops:
            if op.task_id != task_id:
                continue
            pending = True
            last = op.action
            predicted = predict(task, op.action, op.staff_id, op.device, op.created_at)
            if predicted is not None:
                task = predicted
        return ViewTask(task, pending, last)

    def view(self) -> BoardView:
        tasks = {tid: vt for tid in self.confirmed if (vt := self._view_task(tid)) is not None}
        return BoardView(tasks, dict(self.staff), self.saved_at)

    def get(self, task_id: str) -> ViewTask | None:
        return self._view_task(task_id)

    def subscribe(self, listener: Callable[[frozenset[str]], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def notices_subscribe(self, listener: Callable[[Notice], None]) -> Callable[[], None]:
        self._notice_listeners.append(listener)
        return lambda: self._notice_listeners.remove(listener)

    def enqueue(self, action: Action, task_id: str, staff_id: str) -> PendingOp:
        op = PendingOp(next(self._op_ids), action, task_id, staff_id, self.device, self.clock.now())
        self.ops.append(op)
        self.enqueued.append((action, task_id, staff_id))
        self._changed({task_id})
        return op

    def failed_actions(self) -> list[FailedAction]:
        return list(self.failed)

    def get_meta(self, key: str) -> str | None:
        return self.meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        self.meta[key] = value

    # ---- the server's side, for tests
    def _changed(self, ids: Iterable[str]) -> None:
        frozen = frozenset(ids)
        for listener in list(self._listeners):
            listener(frozen)

    def put_task(self, task: Task) -> None:
        self.confirmed[task.id] = task
        self._changed({task.id})

    def remove_task(self, task_id: str) -> None:
        self.confirmed.pop(task_id, None)
        self._changed({task_id})

    def put_staff(self, staff: Staff) -> None:
        self.staff[staff.id] = staff
        self._changed({"__staff__"})

    def _take(self, op_id: str | None) -> PendingOp:
        op = self.ops[0] if op_id is None else next(o for o in self.ops if o.op_id == op_id)
        self.ops.remove(op)
        return op

    def confirm(self, op_id: str | None = None) -> None:
        """The server applied the (first) op as predicted."""
        op = self._take(op_id)
        task = self.confirmed[op.task_id]
        applied = predict(task, op.action, op.staff_id, op.device, op.created_at)
        if applied is not None:
            self.confirmed[op.task_id] = applied.evolve(version=task.version + 1)
        self._changed({op.task_id})

    def conflict(self, winner: Task, message: str, op_id: str | None = None) -> None:
        """The server refused the op: `winner` is the row as it stands."""
        self._take(op_id)
        self.confirmed[winner.id] = winner
        notice = Notice(NoticeKind.CONFLICT, message, winner.id, self.clock.now())
        self._changed({winner.id})
        for listener in list(self._notice_listeners):
            listener(notice)

    def reject(self, reason: str, op_id: str | None = None) -> None:
        op = self._take(op_id)
        task = self.confirmed.get(op.task_id)
        now = self.clock.now()
        self.failed.append(FailedAction(op, "rejected", reason, task.title if task else None, now))
        notice = Notice(NoticeKind.REJECTED, f"Not applied: {reason}", op.task_id, now)
        self._changed({op.task_id})
        for listener in list(self._notice_listeners):
            listener(notice)
