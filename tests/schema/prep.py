"""Helpers for the learned-estimate tests: done tasks with known durations, rows, and
estimate_for as a device of the tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.pg import Kitchen, add_task, as_claims, device_claims

# Fixed times: direct writes are not clamped, and the window order must not depend on
# when a test runs.
BASE = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


@dataclass
class History:
    """Writes finished tasks one after another (each one minute after the last), so
    'the most recent samples' is well defined."""

    conn: Any
    k: Kitchen
    clock: datetime = BASE
    ids: list[str] = field(default_factory=list)

    def done(
        self,
        title: str,
        minutes: float,
        *,
        quantity: float | None = None,
        unit: str | None = None,
        station: str = "Prep",
        staff: int = 0,
    ) -> str:
        """A task inserted as done (an import): claimed, then finished `minutes` later."""
        self.clock += timedelta(minutes=minutes + 1)
        tid = add_task(
            self.conn,
            self.k,
            title=title,
            quantity=quantity,
            unit=unit,
            station=station,
            status="done",
            claimed_by=self.k.staff[staff],
            completed_by=self.k.staff[staff],
            claimed_at=self.clock - timedelta(minutes=minutes),
            completed_at=self.clock,
            created_at=self.clock - timedelta(minutes=minutes + 5),
        )
        self.ids.append(tid)
        return tid

    def many(self, title: str, minutes: list[float], **kw: Any) -> list[str]:
        return [self.done(title, m, **kw) for m in minutes]


def est_row(conn: Any, k: Kitchen, kind: str, station: str = "Prep") -> dict[str, Any] | None:
    row: dict[str, Any] | None = conn.execute(
        "select * from prep_estimates where tenant_id = %s and task_key = %s and station = %s",
        (k.tenant_id, kind, station),
    ).fetchone()
    return row


def samples(conn: Any, k: Kitchen, kind: str | None = None) -> list[dict[str, Any]]:
    q = "select * from prep_samples where tenant_id = %s"
    args: tuple[Any, ...] = (k.tenant_id,)
    if kind is not None:
        q += " and kind = %s"
        args += (kind,)
    rows: list[dict[str, Any]] = conn.execute(q + " order by completed_at", args).fetchall()
    return rows


def estimate_for(
    conn: Any,
    k: Kitchen,
    title: str,
    quantity: float | None = None,
    unit: str | None = None,
    station: str = "Prep",
    claims: dict[str, Any] | None = None,
) -> dict[str, Any]:
    with as_claims(conn, claims or device_claims(k.tenant_id, k.kitchen_id)):
        row = conn.execute(
            "select public.estimate_for(p_title => %s, p_quantity => %s, p_unit => %s, "
            "p_station => %s) as e",
            (title, quantity, unit, station),
        ).fetchone()
    result: dict[str, Any] = row["e"]
    return result


def kind(conn: Any, title: str) -> str:
    value: str = conn.execute("select public.task_kind(%s) as k", (title,)).fetchone()["k"]
    return value


def new_id() -> str:
    return str(uuid.uuid4())
