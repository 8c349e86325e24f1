"""Learned prep times, as the server keeps them per tenant, task kind and station.

The server learns from every completion and keeps one row per (kind, station): flat p50
and p90 minutes, and where it could fit one, how the time grows with the quantity
(a setup time plus minutes per unit, for one unit). Each row says what it is based on:
``exact`` (this kind's own history), ``similar`` (borrowed from similar kinds),
``station`` (the station's typical rate) or ``none``. The board turns a row into the
estimate for one task's quantity; pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from caterking_display.domain.task import RowError, Status, Task
from caterking_display.domain.text import printable


class Basis(StrEnum):
    EXACT = "exact"
    SIMILAR = "similar"
    STATION = "station"
    NONE = "none"


def _num(row: dict[str, Any], key: str, *, required: bool = False) -> float | None:
    value = row.get(key)
    if value is None:
        if required:
            raise RowError(f"{key}: missing")
        return None
    try:
        number = float(Decimal(str(value)))
    except (InvalidOperation, ValueError) as exc:
        raise RowError(f"{key}: not a number: {value!r}") from exc
    if number != number or number in (float("inf"), float("-inf")) or number < 0:
        raise RowError(f"{key}: out of range: {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class Estimate:
    """One row of ``prep_estimates``."""

    tenant_id: str
    kind: str
    station: str
    p50_minutes: float
    p90_minutes: float
    basis: Basis
    similar_to: tuple[str, ...] = ()
    samples: int = 0
    unit: str | None = None
    p50_setup_minutes: float | None = None
    p50_minutes_per_unit: float | None = None
    p90_setup_minutes: float | None = None
    p90_minutes_per_unit: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.station)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Estimate:
        if not isinstance(row, dict):
            raise RowError("estimate row is not an object")
        kind = row.get("task_key")
        tenant = row.get("tenant_id")
        if not isinstance(kind, str) or not isinstance(tenant, str):
            raise RowError("task_key/tenant_id: missing")
        try:
            basis = Basis(str(row.get("basis") or "exact"))
        except ValueError as exc:
            raise RowError(f"basis: unknown {row.get('basis')!r}") from exc
        similar = row.get("similar_to") or []
        if not isinstance(similar, list):
            raise RowError("similar_to: not a list")
        samples = row.get("samples") or 0
        if not isinstance(samples, int) or isinstance(samples, bool):
            raise RowError("samples: not a whole number")
        unit = row.get("unit")
        return cls(
            tenant_id=tenant,
            kind=kind,
            station=str(row.get("station") or ""),
            p50_minutes=_num(row, "p50_minutes", required=True) or 0.0,
            p90_minutes=_num(row, "p90_minutes", required=True) or 0.0,
            basis=basis,
            similar_to=tuple(printable(str(k)) for k in similar[:10]),
            samples=samples,
            unit=printable(unit) if isinstance(unit, str) else None,
            p50_setup_minutes=_num(row, "p50_setup_minutes"),
            p50_minutes_per_unit=_num(row, "p50_minutes_per_unit"),
            p90_setup_minutes=_num(row, "p90_setup_minutes"),
            p90_minutes_per_unit=_num(row, "p90_minutes_per_unit"),
        )

    def to_row(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "task_key": self.kind,
            "station": self.station,
            "p50_minutes": self.p50_minutes,
            "p90_minutes": self.p90_minutes,
            "basis": self.basis.value,
            "similar_to": list(self.similar_to),
            "samples": self.samples,
            "unit": self.unit,
            "p50_setup_minutes": self.p50_setup_minutes,
            "p50_minutes_per_unit": self.p50_minutes_per_unit,
            "p90_setup_minutes": self.p90_setup_minutes,
            "p90_minutes_per_unit": self.p90_minutes_per_unit,
        }


@dataclass(frozen=True, slots=True)
class TaskEstimate:
    """What one task should take, and on what the figure is based."""

    p50: timedelta
    p90: timedelta
    basis: Basis
    samples: int
    similar_to: tuple[str, ...]
    scaled: bool  # computed for this task's quantity (the per-unit fit)

    def start_by(self, task: Task) -> datetime | None:
        """Due time minus the p90: start by then to be done on time (most days)."""
        return None if task.due_at is None else task.due_at - self.p90

    def running_long(self, task: Task, now: datetime) -> bool:
        """Claimed for longer than the p90: worth a look."""
        return (
            task.status is Status.CLAIMED
            and task.claimed_at is not None
            and now - task.claimed_at > self.p90
        )


def estimate_task(task: Task, est: Estimate | None) -> TaskEstimate | None:
    """The estimate for this task's quantity, or None when there is no basis at all."""
    if est is None or est.basis is Basis.NONE:
        return None
    p50, p90, scaled = est.p50_minutes, est.p90_minutes, False
    same_unit = (
        task.quantity is not None
        and est.unit is not None
        and (task.unit or "").strip().casefold() == est.unit.strip().casefold()
    )
    if same_unit and est.p50_minutes_per_unit is not None and est.p50_setup_minutes is not None:
        q = float(task.quantity)  # type: ignore[arg-type]
        p50 = est.p50_setup_minutes + est.p50_minutes_per_unit * q
        if est.p90_setup_minutes is not None and est.p90_minutes_per_unit is not None:
            p90 = est.p90_setup_minutes + est.p90_minutes_per_unit * q
        else:
            p90 = p50 * (est.p90_minutes / est.p50_minutes if est.p50_minutes else 1.5)
        scaled = True
    p90 = max(p90, p50)
    if p50 <= 0:
        return None
    return TaskEstimate(
        p50=timedelta(minutes=p50),
        p90=timedelta(minutes=p90),
        basis=est.basis,
        samples=est.samples,
        similar_to=est.similar_to,
        scaled=scaled,
    )
