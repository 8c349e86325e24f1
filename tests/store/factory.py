"""Builders for store tests: valid uuids (rows must round-trip through from_row)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from caterking_display.domain.clock import FixedClock
from caterking_display.domain.task import Priority, Staff, Status, Task
from caterking_display.store import BoardStore

T0 = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
TENANT = "00000000-0000-4000-8000-0000000000a1"
KITCHEN = "00000000-0000-4000-8000-0000000000b1"
MARIA = "00000000-0000-4000-8000-00000000c001"
BEN = "00000000-0000-4000-8000-00000000c002"
ME = "00000000-0000-4000-8000-00000000c003"
DEVICE = "display-1"


def tid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def task(
    n: int, version: int = 1, status: Status = Status.PENDING, title: str = "", **kw: Any
) -> Task:
    t = Task(
        id=tid(n),
        tenant_id=TENANT,
        kitchen_id=KITCHEN,
        title=title or f"Task {n}",
        station="grill",
        status=status,
        priority=Priority.NORMAL,
        version=version,
        created_at=T0,
        updated_at=T0,
    )
    return t.evolve(**kw) if kw else t


def claimed(n: int, version: int, by: str) -> Task:
    return task(n, version, Status.CLAIMED, claimed_by=by, claimed_at=T0, claimed_device="phone")


def done(n: int, version: int, by: str) -> Task:
    return task(
        n,
        version,
        Status.DONE,
        claimed_by=by,
        claimed_at=T0,
        completed_by=by,
        completed_at=T0,
    )


def staff(sid: str, name: str, active: bool = True) -> Staff:
    return Staff(
        id=sid,
        tenant_id=TENANT,
        kitchen_id=KITCHEN,
        display_name=name,
        initials=name[:2].upper(),
        active=active,
    )


STAFF = [staff(MARIA, "Maria"), staff(BEN, "Ben"), staff(ME, "Sam")]


def make_clock() -> FixedClock:
    return FixedClock(T0)


def new_store(path: Path | None = None, clock: FixedClock | None = None) -> BoardStore:
    return BoardStore(path, clock or make_clock(), DEVICE)


class Recorder:
    """A change listener that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[frozenset[str]] = []

    def __call__(self, ids: frozenset[str]) -> None:
        self.calls.append(ids)
