"""The optimistic overlay: confirmed rows with pending ops applied on top.

Pure functions, no state. The store keeps confirmed rows and the outbox apart (so
either can be wiped and rebuilt) and calls :func:`view_task` for each task whose
inputs changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from caterking_display.domain.actions import predict
from caterking_display.domain.board import PendingOp, ViewTask
from caterking_display.domain.task import Status, Task


def overlay(task: Task, ops: Iterable[PendingOp]) -> Task:
    """``task`` with each op predicted on top, in FIFO order.

    An op the prediction refuses (claiming a card someone else holds) leaves the task
    as it is: it stays queued and the server decides.
    """
    current = task
    for op in ops:
        predicted = predict(current, op.action, op.staff_id, op.device, op.created_at)
        if predicted is not None:
            current = predicted
    return current


def view_task(confirmed: Task | None, ops: list[PendingOp]) -> ViewTask | None:
    """How one task shows on the board; None when it is not on the board.

    Not on the board: unknown to the server (no confirmed row) or cancelled.
    """
    if confirmed is None or confirmed.status is Status.CANCELLED:
        return None
    if not ops:
        return ViewTask(task=confirmed, pending=False, pending_action=None)
    shown = overlay(confirmed, ops)
    if shown.status is Status.CANCELLED:  # pragma: no cover - predict never cancels
        return None
    return ViewTask(task=shown, pending=True, pending_action=ops[-1].action)
