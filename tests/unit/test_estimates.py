"""Learned estimates on the board: rows parsed safely, scaled to a task's quantity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from caterking_display.domain.estimates import Basis, Estimate, estimate_task
from caterking_display.domain.similarity import group_similar, most_similar, similarity
from caterking_display.domain.task import Priority, RowError, Status, Task

T0 = datetime(2026, 3, 14, 11, 0, tzinfo=UTC)
TENANT = "00000000-0000-4000-8000-0000000000a1"


def row(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "tenant_id": TENANT,
        "task_key": "dice onion",
        "station": "Veg",
        "p50_minutes": "12",
        "p90_minutes": 20,
        "basis": "exact",
        "similar_to": [],
        "samples": 14,
        "unit": "kg",
        "p50_setup_minutes": 4,
        "p50_minutes_per_unit": "1.5",
        "p90_setup_minutes": 6,
        "p90_minutes_per_unit": 2.5,
    }
    base.update(kw)
    return base


def onions(qty: str | None = "10", unit: str | None = "kg", **kw: object) -> Task:
    t = Task(
        id="00000000-0000-4000-8000-000000000001",
        tenant_id=TENANT,
        kitchen_id=TENANT,
        title="Dice onions",
        station="Veg",
        status=Status.PENDING,
        priority=Priority.NORMAL,
        version=1,
        created_at=T0,
        updated_at=T0,
        quantity=None if qty is None else Decimal(qty),
        unit=unit,
        due_at=T0 + timedelta(hours=1),
        kind="dice onion",
    )
    return t.evolve(**kw) if kw else t


def test_a_task_in_the_fitted_unit_is_scaled_by_its_quantity() -> None:
    est = estimate_task(onions("10", "KG"), Estimate.from_row(row()))
    assert est is not None and est.scaled
    assert est.p50 == timedelta(minutes=4 + 1.5 * 10)
    assert est.p90 == timedelta(minutes=6 + 2.5 * 10)
    assert est.start_by(onions()) == T0 + timedelta(hours=1) - timedelta(minutes=31)


@pytest.mark.parametrize(("qty", "unit"), [(None, None), ("3", "tubs"), ("4", None)])
def test_other_units_or_no_quantity_use_the_flat_figures(qty: str | None, unit: str | None) -> None:
    est = estimate_task(onions(qty, unit), Estimate.from_row(row()))
    assert est is not None and not est.scaled
    assert (est.p50, est.p90) == (timedelta(minutes=12), timedelta(minutes=20))


def test_no_basis_means_no_estimate() -> None:
    assert estimate_task(onions(), Estimate.from_row(row(basis="none", p50_minutes=0))) is None
    assert estimate_task(onions(), None) is None


def test_running_long_is_past_the_p90_of_a_claimed_task() -> None:
    claimed = onions(status=Status.CLAIMED, claimed_by=TENANT, claimed_at=T0)
    est = estimate_task(claimed, Estimate.from_row(row()))
    assert est is not None
    assert not est.running_long(claimed, T0 + timedelta(minutes=30))
    assert est.running_long(claimed, T0 + timedelta(minutes=32))


@pytest.mark.parametrize(
    "bad",
    [
        {"p50_minutes": None},
        {"p50_minutes": "lots"},
        {"p90_minutes": "-3"},
        {"p90_minutes": "NaN"},
        {"basis": "guess"},
        {"similar_to": "dice shallot"},
        {"samples": 2.5},
        {"task_key": None},
    ],
)
def test_malformed_rows_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(RowError):
        Estimate.from_row(row(**bad))


def test_a_row_round_trips_and_similar_kinds_are_kept() -> None:
    est = Estimate.from_row(row(basis="similar", similar_to=["dice shallot", "slice onion"]))
    assert est.basis is Basis.SIMILAR and est.similar_to == ("dice shallot", "slice onion")
    assert Estimate.from_row(est.to_row()) == est


def test_trigram_similarity_matches_pg_trgm() -> None:
    # PostgreSQL: select similarity('word', 'two words') → 0.363636
    assert similarity("word", "two words") == pytest.approx(0.363636, abs=1e-6)
    assert similarity("dice onion", "onion dice") == 1.0
    assert similarity("dice onion", "peel carrot") < 0.2


def test_similar_kinds_group_together_in_order() -> None:
    kinds = ["dice onion", "peel carrot", "dice onion red", "peel carrots", "temper chocolate"]
    assert group_similar(kinds) == [
        ["dice onion", "dice onion red"],
        ["peel carrot", "peel carrots"],
        ["temper chocolate"],
    ]
    assert most_similar("dice onion", kinds) == ["dice onion red"]
