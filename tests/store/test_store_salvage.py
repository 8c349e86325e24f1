"""A damaged board file never drops unsent actions.

A real store file (small pages, so every table spans several) with pending ops, a
not-applied list and meta is damaged four ways — garbage in task pages, garbage in an
ops page, a garbage header, a truncated file — and reopened with ``BoardStore.open``.
Pages are found with SQLite's ``dbstat`` before the damage, never guessed; which ops sat
on a damaged page is read from that page's bytes (each row holds its op id as text).
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import struct
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest

from caterking_display.domain.actions import Action, Outcome
from caterking_display.domain.board import FailedAction, PendingOp
from caterking_display.store import BoardStore

from .factory import DEVICE, MARIA, ME, STAFF, T0, make_clock, task, tid

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
    refused, so seq has holes; one retried twice), and meta. Op ids are seeded, so the
    op-id index (and so the page layout) is the same every run."""
    rng = random.Random(8)
    seeded = mock.patch.object(
        uuid, "uuid4", side_effect=lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
    )
    with seeded:
        return _make_board(path, page_size)


def _make_board(path: Path, page_size: int) -> Board:
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


# --- (a) garbage in the tasks table --------------------------------------------------


def test_garbage_in_task_pages_keeps_every_unsent_action(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board.sqlite3")
    leaves = pages(board.path, "tasks")
    assert len(leaves) > 10
    smash(board.path, leaves[::4])
    with pytest.raises(sqlite3.DatabaseError), connect(board.path) as c:
        c.execute("SELECT row FROM tasks").fetchall()

    s = reopen(board)
    assert_carried(s, board, board.ops)
    assert s.failed_actions() == board.failed
    assert {k: s.get_meta(k) for k in META} == META
    r = s.recovery
    assert r is not None
    assert (r.ops_recovered, r.ops_lost, r.ops_lost_at_most, r.lost_op_ids) == (10, 0, 0, ())
    assert (r.failed_recovered, r.failed_lost, r.meta_recovered) == (2, 0, 3)
    assert r.moved_to == aside(board) and r.at == T0
    assert r.cause == "corrupt" and not r.in_memory
    assert r.layers == ("sqlite",)
    s.close()


def test_the_report_survives_a_restart_until_acknowledged(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board.sqlite3")
    smash(board.path, pages(board.path, "tasks")[:3])
    first = reopen(board)
    report = first.recovery
    first.close()

    again = reopen(board)  # nobody saw it yet
    assert again.recovery == report
    assert again.pending_ops() == board.ops
    assert report is not None and aside(board) == report.moved_to  # one damaged file only
    again.acknowledge_recovery()
    assert again.recovery is None
    again.acknowledge_recovery()  # harmless twice
    again.close()

    last = reopen(board)
    assert last.recovery is None and last.pending_ops() == board.ops
    last.close()


def test_a_malformed_schema_entry_does_not_hide_the_outbox(tmp_path: Path) -> None:
    """SQLite refuses every query once one schema entry is malformed; the salvage reads
    with ``writable_schema`` on, which lets the other tables be read."""
    board = make_board(tmp_path / "board.sqlite3")
    data = bytearray(board.path.read_bytes())
    at = data.find(b"CREATE TABLE tasks (")
    assert at > 0
    data[at + 13 : at + 20] = b"ta(ks ("  # a syntax error in the tasks entry only
    board.path.write_bytes(bytes(data))
    with pytest.raises(sqlite3.DatabaseError, match="malformed database schema"):
        with connect(board.path) as c:
            c.execute("SELECT * FROM ops").fetchall()

    s = reopen(board)
    assert_carried(s, board, board.ops)
    r = s.recovery
    assert r is not None and r.ops_lost == 0 and r.layers == ("sqlite",)
    s.close()


# --- (b) garbage in a page of the ops table --------------------------------------------


def test_garbage_in_an_ops_page_recovers_the_rest_and_names_the_lost(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board.sqlite3")
    leaves = pages(board.path, "ops")
    assert len(leaves) >= 3
    bad = leaves[1]
    lost = ops_on(board, [bad])
    assert lost and len(lost) < len(board.ops)
    smash(board.path, [bad])

    s = reopen(board)
    kept = [o for o in board.ops if o not in lost]
    assert_carried(s, board, kept)
    assert s.failed_actions() == board.failed
    r = s.recovery
    assert r is not None
    # The unique op-id index is intact: it lists every op, so the loss is exact.
    assert (r.ops_recovered, r.ops_lost, r.ops_lost_at_most) == (len(kept), len(lost), len(lost))
    assert r.lost_op_ids == tuple(o.op_id for o in lost)
    assert r.failed_lost == 0
    s.close()


def test_an_ops_page_and_the_op_id_index_both_damaged_the_loss_is_unknown(
    tmp_path: Path,
) -> None:
    board = make_board(tmp_path / "board.sqlite3")
    bad = pages(board.path, "ops")[1]
    lost = ops_on(board, [bad])
    index = pages(board.path, "sqlite_autoindex_ops_1")
    smash(board.path, [bad, *index])

    s = reopen(board)
    kept = [o for o in board.ops if o not in lost]
    assert_carried(s, board, kept)
    r = s.recovery
    assert r is not None
    assert r.ops_recovered == len(kept)
    assert r.ops_lost is None and r.lost_op_ids == ()  # cannot be known...
    # ...but bounded: only the seq range of the damaged page could hide ops.
    assert r.ops_lost_at_most is not None
    max_seq = max(board.seqs.values())
    assert len(lost) <= r.ops_lost_at_most <= max_seq - len(kept)
    s.close()


# --- (c) a garbage header -------------------------------------------------------------


@pytest.mark.parametrize("page_size", [512, 1024, 4096])
def test_a_garbage_header_is_read_page_by_page(tmp_path: Path, page_size: int) -> None:
    board = make_board(tmp_path / "board.sqlite3", page_size)
    data = bytearray(board.path.read_bytes())
    data[:100] = bytes((i * 37 + 11) % 256 for i in range(100))
    board.path.write_bytes(bytes(data))

    s = reopen(board)
    with pytest.raises(sqlite3.DatabaseError), connect(aside(board)) as c:
        c.execute("SELECT * FROM sqlite_schema").fetchall()  # SQLite cannot open it
    assert_carried(s, board, board.ops)
    assert s.failed_actions() == board.failed
    assert {k: s.get_meta(k) for k in META} == META
    r = s.recovery
    assert r is not None
    assert (r.ops_recovered, r.ops_lost, r.failed_recovered, r.failed_lost) == (10, 0, 2, 0)
    assert r.layers == ("btree",)
    s.close()


# --- (d) a truncated file ---------------------------------------------------------------


def test_a_truncated_file_keeps_the_ops_in_what_is_left(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board.sqlite3")
    leaves = pages(board.path, "ops")
    cut = leaves[len(leaves) // 2] - 1  # keep the first half of the ops pages
    before = ops_on(board, [n for n in leaves if n <= cut])
    after = ops_on(board, [n for n in leaves if n > cut])
    assert before and after and len(before) + len(after) == len(board.ops)
    index_whole = all(n <= cut for n in pages(board.path, "sqlite_autoindex_ops_1"))
    with board.path.open("r+b") as f:
        f.truncate(cut * PAGE)

    s = reopen(board)
    assert_carried(s, board, before)
    r = s.recovery
    assert r is not None and r.ops_recovered == len(before)
    if index_whole:
        assert r.ops_lost == len(after)
        assert r.lost_op_ids == tuple(o.op_id for o in after)
    else:
        assert r.ops_lost is None
        assert r.ops_lost_at_most is not None and r.ops_lost_at_most >= len(after)
    s.close()


def test_a_file_cut_before_every_page_of_the_outbox_recovers_none_and_says_so(
    tmp_path: Path,
) -> None:
    board = make_board(tmp_path / "board.sqlite3")
    cut = min(pages(board.path, "ops")) - 1
    index_whole = all(n <= cut for n in pages(board.path, "sqlite_autoindex_ops_1"))
    with board.path.open("r+b") as f:
        f.truncate(cut * PAGE)
    s = reopen(board)
    r = s.recovery
    assert s.pending_ops() == []
    assert r is not None and r.ops_recovered == 0
    if index_whole:  # the index still lists them: the loss is exact
        assert r.ops_lost == 10 and r.lost_op_ids == tuple(o.op_id for o in board.ops)
    else:
        assert r.ops_lost is None
    s.close()


# --- a crash left recent actions in the WAL, and the header is damaged ------------------


def wal_pages(wal: Path, size: int = PAGE) -> list[int]:
    data = wal.read_bytes()
    frame = 24 + size
    return [
        struct.unpack(">I", data[32 + k * frame : 36 + k * frame])[0]
        for k in range((len(data) - 32) // frame)
    ]


def test_actions_only_in_the_wal_are_salvaged_too(tmp_path: Path) -> None:
    """A power cut leaves the latest commits only in ``-wal``; with the header damaged
    SQLite cannot open the file, and the page reader applies the WAL itself."""
    board = make_board(tmp_path / "board.sqlite3")
    s = BoardStore(board.path, make_clock(), DEVICE)
    # With page 1 (the header) in the WAL, SQLite would read it from there and never
    # notice the damage: this test needs the last commits not to touch page 1, so it
    # checkpoints (as SQLite does now and then) until two commits in a row did not.
    late: list[PendingOp] = []
    since = 0
    for n in range(1, 30):
        late.append(s.enqueue(Action.RELEASE, tid(n), ME))
        since += 1
        if 1 in wal_pages(tmp_path / "board.sqlite3-wal"):
            with connect(board.path) as c:
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            since = 0
        elif since == 2:
            break
    assert since == 2
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for name in ("board.sqlite3", "board.sqlite3-wal"):  # a power cut: files as they are
        shutil.copyfile(tmp_path / name, crashed / name)
    s.close()
    path = crashed / "board.sqlite3"
    assert (crashed / "board.sqlite3-wal").stat().st_size > 0
    data = bytearray(path.read_bytes())
    data[:100] = GARBAGE * 100
    path.write_bytes(bytes(data))

    again = BoardStore.open(path, make_clock(), DEVICE)
    assert [o.op_id for o in again.pending_ops()] == [o.op_id for o in board.ops + late]
    r = again.recovery
    assert r is not None and r.ops_recovered == 10 + len(late) and r.ops_lost == 0
    again.close()


# --- when the fresh file cannot be made -------------------------------------------------


def test_no_fresh_file_the_salvaged_ops_run_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import caterking_display.store.board_store as bs

    board = make_board(tmp_path / "board.sqlite3")
    smash(board.path, pages(board.path, "tasks")[:2])
    real = bs.Persistence
    opened: list[Path | None] = []

    def flaky(path: Path | None, *, check: bool = False) -> object:
        opened.append(path)
        if path is not None and len(opened) > 1:
            raise sqlite3.OperationalError("disk I/O error")  # the fresh file
        return real(path, check=check)

    damaged = board.path.read_bytes()
    monkeypatch.setattr(bs, "Persistence", flaky)
    s = reopen(board)
    assert opened == [board.path, board.path, None]
    assert s.pending_ops() == board.ops and s.failed_actions() == board.failed  # still sent
    r = s.recovery
    assert r is not None and r.in_memory and r.ops_recovered == 10 and r.ops_lost == 0
    # The damaged file is back where it was, so a restart salvages it again.
    assert r.moved_to is None and board.path.read_bytes() == damaged
    assert not list(tmp_path.glob("board.sqlite3.corrupt-*"))
    s.close()

    monkeypatch.setattr(bs, "Persistence", real)  # the card works again
    again = reopen(board)
    assert again.pending_ops() == board.ops
    r2 = again.recovery
    assert r2 is not None and not r2.in_memory and r2.moved_to == aside(board)
    again.close()


def test_a_file_that_cannot_be_moved_is_salvaged_where_it_lies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import caterking_display.store.board_store as bs

    board = make_board(tmp_path / "board.sqlite3")
    smash(board.path, pages(board.path, "tasks")[:2])
    damaged = board.path.read_bytes()

    def stuck(path: Path, now: object) -> Path:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(bs, "_move_aside", stuck)
    s = reopen(board)
    assert s.pending_ops() == board.ops
    r = s.recovery
    assert r is not None and r.in_memory and r.moved_to is None and r.ops_recovered == 10
    assert board.path.read_bytes() == damaged  # left exactly as it was
    s.close()


# --- the page scan, and stale copies of answered ops ----------------------------------


def test_an_unreadable_ops_root_its_leaves_are_found_and_stale_copies_stay_out(
    tmp_path: Path,
) -> None:
    """An SQLite without secure_delete (Debian's has it on; others may not) leaves rows
    of answered ops on free pages. When the ops tree cannot be followed, the page scan
    finds the live leaves; the op-id index says which rows are live, so no answered op
    comes back."""
    board = make_board(tmp_path / "board.sqlite3")
    leaves = pages(board.path, "ops")
    first = min(leaves, key=lambda n: min(board.seqs[o.op_id] for o in ops_on(board, [n])))
    answered = ops_on(board, [first])  # the oldest ops, answered by the server since
    old_page = page_bytes(board.path, first)
    with connect(board.path) as c:
        for o in answered:
            c.execute("DELETE FROM ops WHERE op_id=?", (o.op_id,))
            c.commit()
        used = {int(r[0]) for r in c.execute("SELECT pageno FROM dbstat")}
    data = bytearray(board.path.read_bytes())
    trunk = struct.unpack(">I", data[32:36])[0]  # the freelist's first trunk page
    free = sorted(set(range(1, len(data) // PAGE + 1)) - used - {trunk})
    assert free
    data[(free[0] - 1) * PAGE : free[0] * PAGE] = old_page  # the stale copy
    [root] = pages(board.path, "ops", "internal")
    data[(root - 1) * PAGE : root * PAGE] = GARBAGE * PAGE
    data[:100] = GARBAGE * 100  # and no header: the freelist is unknown too
    board.path.write_bytes(bytes(data))

    s = reopen(board)
    live = [o for o in board.ops if o not in answered]
    assert_carried(s, board, live)
    r = s.recovery
    assert r is not None and r.ops_recovered == len(live) and r.ops_lost == 0
    assert "page_scan" in r.layers
    s.close()
