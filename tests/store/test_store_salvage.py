"""A damaged board file never drops unsent actions.

A real store file (small pages, so every table spans several) with pending ops, a
not-applied list and meta is damaged and reopened with ``BoardStore.open``.
Pages are found with SQLite's ``dbstat`` before the damage, never guessed; which ops sat
on a damaged page is read from that page's bytes (each row holds its op id as text).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from caterking_display.domain.actions import Action, Outcome
from caterking_display.domain.board import FailedAction, PendingOp
from caterking_display.store import BoardStore

from .factory import DEVICE, MARIA, ME, STAFF, make_clock, task, tid

PAGE = 512
GARBAGE = b"\xab"  # not a b-tree page type, so SQLite sees the damage at once
META = {"last_staff_id": MARIA, "kitchen_name": "Main", "kitchen_timezone": "Europe/London"}


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that is closed afterwards (sqlite3's own ``with`` only commits)."""
    with closing(sqlite3.connect(path)) as c:
        yield c


@dataclass
class Board:
    path: Path
    ops: list[PendingOp]  # pending, oldest first
    seqs: dict[str, int]  # op id -> seq in the file
    failed: list[FailedAction]


def make_board(path: Path, page_size: int = PAGE) -> Board:
    """240 tasks (each spilling onto an overflow page), 12 ops queued between them (two
    refused, so seq has holes; one retried twice), and meta."""
    with connect(path) as c:
        c.execute(f"PRAGMA page_size={page_size}")
        c.execute("PRAGMA user_version=0")  # writes the header: the page size sticks
    clock = make_clock()
    s = BoardStore(path, clock, DEVICE)
    s.replace_board([], STAFF)
    queued: list[PendingOp] = []
    for i in range(1, 241):
        s.apply_server_task(task(i, title=f"Task {i} " + "x" * 40))
        if i % 20 == 0:
            queued.append(s.enqueue(Action.CLAIM if i % 40 else Action.COMPLETE, tid(i), ME))
            clock.advance(7)
    s.record_attempt(queued[0].op_id, "network error: connection refused")
    s.record_attempt(queued[0].op_id, "timed out (ReadTimeout)")
    s.resolve_op(queued[3].op_id, Outcome.REJECTED, None, "inactive_staff")
    s.resolve_op(queued[7].op_id, Outcome.REJECTED, None, "unknown_task")
    for k, v in META.items():
        s.set_meta(k, v)
    board = Board(path, s.pending_ops(), {}, s.failed_actions())
    s.close()
    assert len(board.ops) == 10 and len(board.failed) == 2
    with connect(path) as c:
        board.seqs = {str(o): int(q) for q, o in c.execute("SELECT seq, op_id FROM ops")}
    return board


def pages(path: Path, name: str, kind: str = "leaf") -> list[int]:
    """The pages of table/index ``name`` (dbstat: 'leaf', 'internal' or 'overflow')."""
    with connect(path) as c:
        rows = c.execute(
            "SELECT pageno FROM dbstat WHERE name=? AND pagetype=? ORDER BY pageno", (name, kind)
        ).fetchall()
    return [int(r[0]) for r in rows]


def page_bytes(path: Path, n: int, size: int = PAGE) -> bytes:
    return path.read_bytes()[(n - 1) * size : n * size]


def smash(path: Path, numbers: list[int], size: int = PAGE) -> None:
    data = bytearray(path.read_bytes())
    for n in numbers:
        data[(n - 1) * size : n * size] = GARBAGE * size
    path.write_bytes(bytes(data))


def ops_on(board: Board, numbers: list[int]) -> list[PendingOp]:
    raw = [page_bytes(board.path, n) for n in numbers]
    return [o for o in board.ops if any(o.op_id.encode() in p for p in raw)]


def seqs_in(path: Path) -> dict[str, int]:
    with connect(path) as c:
        return {str(o): int(q) for q, o in c.execute("SELECT seq, op_id FROM ops")}


def reopen(board: Board) -> BoardStore:
    return BoardStore.open(board.path, make_clock(), DEVICE)


def assert_carried(s: BoardStore, board: Board, expected: list[PendingOp]) -> None:
    """Exactly ``expected``, field for field, in order, with their seq numbers."""
    assert s.pending_ops() == expected
    assert [o.op_id for o in expected] == sorted(
        (o.op_id for o in expected), key=board.seqs.__getitem__
    )
    assert seqs_in(board.path) == {o.op_id: board.seqs[o.op_id] for o in expected}
    # server truth is not carried: the board is refetched
    assert s.saved_at is None and s.view().tasks == {} and s.view().staff == {}


def aside(board: Board) -> Path:
    [moved] = [
        p
        for p in board.path.parent.glob(f"{board.path.name}.corrupt-*")
        if not p.name.endswith(("-wal", "-shm"))
    ]
    return moved


# --- the finding (issue 8) -------------------------------------------------------------


@pytest.mark.xfail(strict=True, reason="issue 8: open() starts empty on a damaged file")
def test_garbage_in_task_pages_keeps_every_unsent_action(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board.sqlite3")
    leaves = pages(board.path, "tasks")
    assert len(leaves) > 10
    smash(board.path, leaves[::4])  # only confirmed rows are damaged
    s = reopen(board)
    assert_carried(s, board, board.ops)  # today: 10 unsent actions -> 0
    s.close()
