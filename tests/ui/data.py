"""Fixed, realistic test data: a catering kitchen at 11:00 UTC on a fixed day."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from caterking_display.domain.estimates import Estimate
from caterking_display.domain.task import Priority, Staff, Status, Task

T0 = datetime(2025, 3, 14, 11, 0, 0, tzinfo=UTC)
TENANT = str(uuid.uuid5(uuid.NAMESPACE_DNS, "tenant.caterking.test"))
KITCHEN = str(uuid.uuid5(uuid.NAMESPACE_DNS, "kitchen.caterking.test"))


def uid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def staff(name: str, initials: str, active: bool = True) -> Staff:
    return Staff(uid(f"staff/{name}"), TENANT, KITCHEN, name, initials, active)


STAFF = [
    staff("Ana Souza", "AS"),
    staff("Ben Okafor", "BO"),
    staff("Chloe Martin", "CM"),
    staff("Dev Patel", "DP"),
    staff("Eli Novak", "EN", active=False),
]
ANA, BEN, CHLOE, DEV, ELI = (s.id for s in STAFF)


def task(
    name: str,
    *,
    station: str = "Veg",
    qty: str | None = "5",
    unit: str | None = "kg",
    status: Status = Status.PENDING,
    priority: Priority = Priority.NORMAL,
    due_in: float | None = 45,
    created_ago: float = 60,
    claimed_by: str | None = None,
    claimed_ago: float = 12,
    completed_ago: float = 5,
    kind: str | None = None,
) -> Task:
    """A task; times are minutes relative to T0."""
    completed = status is Status.DONE
    claimer = claimed_by if status is not Status.PENDING else None
    return Task(
        id=uid(f"task/{name}"),
        tenant_id=TENANT,
        kitchen_id=KITCHEN,
        title=name,
        station=station,
        status=status,
        priority=priority,
        version=1,
        created_at=T0 - timedelta(minutes=created_ago),
        updated_at=T0 - timedelta(minutes=created_ago),
        quantity=None if qty is None else Decimal(qty),
        unit=unit,
        due_at=None if due_in is None else T0 + timedelta(minutes=due_in),
        claimed_by=claimer,
        claimed_at=T0 - timedelta(minutes=claimed_ago) if claimer else None,
        claimed_device="wall-2" if claimer else None,
        completed_by=claimer if completed else None,
        completed_at=T0 - timedelta(minutes=completed_ago) if completed else None,
        kind=kind,
    )


def small_board() -> list[Task]:
    return [
        task("Dice onions", qty="12", due_in=40),
        task("Blanch green beans", qty="4", due_in=50, created_ago=50),
        task(
            "Roast chicken thighs",
            station="Grill",
            qty="60",
            unit="pcs",
            status=Status.CLAIMED,
            claimed_by=ANA,
            due_in=30,
        ),
        task(
            "Lemon tart shells",
            station="Pastry",
            qty="48",
            unit="pcs",
            status=Status.DONE,
            claimed_by=BEN,
            completed_ago=4,
        ),
    ]


_TITLES = [
    ("Dice onions", "Veg", "12", "kg"),
    ("Peel carrots", "Veg", "8", "kg"),
    ("Blanch asparagus", "Veg", "3.5", "kg"),
    ("Chiffonade basil", "Veg", "200", "g"),
    ("Portion salmon fillets", "Fish", "80", "pcs"),
    ("Cure gravlax", "Fish", "4", "sides"),
    ("Pick crab meat", "Fish", "2", "kg"),
    ("Marinate lamb rumps", "Grill", "40", "pcs"),
    ("Skewer halloumi", "Grill", "120", "pcs"),
    ("Char peppers", "Grill", "6", "kg"),
    ("Whip chantilly cream", "Pastry", "5", "l"),
    ("Bake brioche buns", "Pastry", "150", "pcs"),
    ("Temper chocolate", "Pastry", "3", "kg"),
    ("Reduce veal jus", "Sauce", "10", "l"),
    ("Mount beurre blanc", "Sauce", "3", "l"),
    ("Blend salsa verde", "Sauce", "2", "l"),
    ("Wash salad leaves", "Veg", "15", "kg"),
    ("Make vinaigrette", "Sauce", "4", "l"),
    ("Trim beef fillets", "Grill", "12", "kg"),
    ("Pipe choux buns", "Pastry", "200", "pcs"),
    ("Shuck oysters", "Fish", "300", "pcs"),
    ("Roast beetroot", "Veg", "7", "kg"),
    ("Fold canapé blinis", "Pastry", "400", "pcs"),
    ("Glaze pork belly", "Grill", "9", "kg"),
    ("Poach pears", "Pastry", "60", "pcs"),
    ("Confit garlic", "Sauce", "1", "kg"),
    ("Slice smoked duck", "Grill", "3", "kg"),
    ("Pickle shallots", "Veg", "2", "kg"),
    ("Portion cod loins", "Fish", "70", "pcs"),
    ("Set panna cotta", "Pastry", "90", "pcs"),
]


def busy_board() -> list[Task]:
    """About 30 tasks across stations, states and urgencies."""
    people = [ANA, BEN, CHLOE, DEV]
    out: list[Task] = []
    for i, (title, station, qty, unit) in enumerate(_TITLES):
        status = [Status.PENDING, Status.PENDING, Status.CLAIMED, Status.DONE][i % 4]
        priority = (
            Priority.RUSH if i in (4, 14) else Priority.HIGH if i in (7, 21) else (Priority.NORMAL)
        )
        due = [-6, 4, 15, 35, 60, 95, None][i % 7]
        out.append(
            task(
                title,
                station=station,
                qty=qty,
                unit=unit,
                status=status,
                priority=priority,
                due_in=due,
                created_ago=120 - i,
                claimed_by=people[i % 4],
                claimed_ago=3 + i,
                completed_ago=1 + i % 20,
            )
        )
    return out


def estimate(
    kind: str,
    station: str = "Veg",
    p50: float = 12,
    p90: float = 20,
    *,
    basis: str = "exact",
    samples: int = 14,
    similar_to: tuple[str, ...] = (),
    unit: str | None = None,
    per_unit: tuple[float, float] | None = None,  # (p50, p90) minutes per unit
    setup: tuple[float, float] = (0, 0),
) -> Estimate:
    """A learned estimate row as the server keeps it."""
    return Estimate.from_row(
        {
            "tenant_id": TENANT,
            "task_key": kind,
            "station": station,
            "p50_minutes": p50,
            "p90_minutes": p90,
            "basis": basis,
            "samples": samples,
            "similar_to": list(similar_to),
            "unit": unit,
            "p50_setup_minutes": setup[0] if per_unit else None,
            "p90_setup_minutes": setup[1] if per_unit else None,
            "p50_minutes_per_unit": per_unit[0] if per_unit else None,
            "p90_minutes_per_unit": per_unit[1] if per_unit else None,
        }
    )
