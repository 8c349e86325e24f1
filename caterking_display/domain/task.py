"""The task row of the shared contract (docs/database-contract.md) as a frozen value."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any
from uuid import UUID

from caterking_display.domain.text import printable


class Status(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"
    CANCELLED = "cancelled"


class Priority(IntEnum):
    NORMAL = 0
    HIGH = 1
    RUSH = 2


class RowError(ValueError):
    """A server row that does not fit the contract."""


# The 14 major allergens as the database stores them (``tasks.allergens``: short
# lower-case words, enforced there), with a label for display. This order is the
# canonical one: a task lists its allergens in it, whatever order the row had.
ALLERGENS: tuple[tuple[str, str], ...] = (
    ("celery", "Celery"),
    ("gluten", "Gluten"),
    ("crustaceans", "Crustaceans"),
    ("eggs", "Eggs"),
    ("fish", "Fish"),
    ("lupin", "Lupin"),
    ("milk", "Milk"),
    ("molluscs", "Molluscs"),
    ("mustard", "Mustard"),
    ("nuts", "Nuts"),
    ("peanuts", "Peanuts"),
    ("sesame", "Sesame"),
    ("soya", "Soya"),
    ("sulphites", "Sulphites"),
)
ALLERGEN_WORDS: tuple[str, ...] = tuple(word for word, _ in ALLERGENS)
ALLERGEN_LABELS: dict[str, str] = dict(ALLERGENS)


def _parse_allergens(value: Any) -> tuple[str, ...]:
    """The known allergen words in ``value``, once each, in the canonical order.

    Missing or null → none (rows stored before allergens existed). Not a list →
    RowError. Words are matched lower-cased and trimmed; anything that is not one of the
    14 words (the database refuses such words, so only a newer schema could send one)
    is dropped rather than shown as a word the board cannot explain.
    """
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise RowError(f"allergens: expected a list, got {type(value).__name__}")
    given = {w.strip().lower() for w in value if isinstance(w, str)}
    return tuple(word for word in ALLERGEN_WORDS if word in given)


def _opt_text(value: Any) -> str | None:
    """An optional text column, safe to show (see ``domain.text``)."""
    return None if value is None else printable(str(value))


def _parse_ts(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise RowError(f"{field}: expected a timestamp, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RowError(f"{field}: bad timestamp {value!r}") from exc
    if parsed.tzinfo is None:
        raise RowError(f"{field}: timestamp without time zone {value!r}")
    return parsed


def _parse_uuid(value: Any, field: str, *, optional: bool = True) -> str | None:
    if value is None:
        if optional:
            return None
        raise RowError(f"{field}: missing")
    try:
        return str(UUID(str(value)))
    except ValueError as exc:
        raise RowError(f"{field}: bad uuid {value!r}") from exc


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    tenant_id: str
    kitchen_id: str
    title: str
    station: str
    status: Status
    priority: Priority
    version: int
    created_at: datetime
    updated_at: datetime
    quantity: Decimal | None = None
    unit: str | None = None
    due_at: datetime | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    claimed_device: str | None = None
    completed_by: str | None = None
    completed_at: datetime | None = None
    notes: str = ""
    allergens: tuple[str, ...] = ()  # words of ALLERGEN_WORDS, in its order
    kind: str | None = None  # the server's normalised key of the title (learned estimates)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Task:
        """Build a Task from a JSON row (REST, RPC or realtime); RowError if it is malformed."""
        if not isinstance(row, dict):
            raise RowError("task row is not an object")
        try:
            status = Status(row["status"])
            priority = Priority(int(row.get("priority") or 0))
            version = int(row["version"])
        except (KeyError, ValueError, TypeError, OverflowError) as exc:
            raise RowError(f"bad task row: {exc}") from exc
        qty = row.get("quantity")
        try:
            quantity = None if qty is None else Decimal(str(qty))
        except ArithmeticError as exc:
            raise RowError(f"quantity: bad number {qty!r}") from exc
        title = row.get("title")
        if not isinstance(title, str):
            raise RowError("title: missing")
        created = _parse_ts(row.get("created_at"), "created_at")
        updated = _parse_ts(row.get("updated_at"), "updated_at")
        if created is None or updated is None:
            raise RowError("created_at/updated_at: missing")
        return cls(
            id=str(_parse_uuid(row.get("id"), "id", optional=False)),
            tenant_id=str(_parse_uuid(row.get("tenant_id"), "tenant_id", optional=False)),
            kitchen_id=str(_parse_uuid(row.get("kitchen_id"), "kitchen_id", optional=False)),
            title=printable(title),
            station=printable(str(row.get("station") or "")),
            status=status,
            priority=priority,
            version=version,
            created_at=created,
            updated_at=updated,
            quantity=quantity,
            unit=_opt_text(row.get("unit")),
            due_at=_parse_ts(row.get("due_at"), "due_at"),
            claimed_by=_parse_uuid(row.get("claimed_by"), "claimed_by"),
            claimed_at=_parse_ts(row.get("claimed_at"), "claimed_at"),
            claimed_device=_opt_text(row.get("claimed_device")),
            completed_by=_parse_uuid(row.get("completed_by"), "completed_by"),
            completed_at=_parse_ts(row.get("completed_at"), "completed_at"),
            notes=printable(str(row.get("notes") or ""), keep_newlines=True),
            allergens=_parse_allergens(row.get("allergens")),
            kind=_opt_text(row.get("kind")),
        )

    def to_row(self) -> dict[str, Any]:
        """The JSON row (for persistence); inverse of from_row."""

        def ts(v: datetime | None) -> str | None:
            return None if v is None else v.isoformat()

        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "kitchen_id": self.kitchen_id,
            "title": self.title,
            "station": self.station,
            "status": self.status.value,
            "priority": int(self.priority),
            "version": self.version,
            "created_at": ts(self.created_at),
            "updated_at": ts(self.updated_at),
            "quantity": None if self.quantity is None else str(self.quantity),
            "unit": self.unit,
            "due_at": ts(self.due_at),
            "claimed_by": self.claimed_by,
            "claimed_at": ts(self.claimed_at),
            "claimed_device": self.claimed_device,
            "completed_by": self.completed_by,
            "completed_at": ts(self.completed_at),
            "notes": self.notes,
            "allergens": list(self.allergens),
            "kind": self.kind,
        }

    def evolve(self, **changes: Any) -> Task:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Staff:
    id: str
    tenant_id: str
    kitchen_id: str
    display_name: str
    initials: str
    active: bool

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Staff:
        if not isinstance(row, dict):
            raise RowError("staff row is not an object")
        name = row.get("display_name")
        if not isinstance(name, str):
            raise RowError("display_name: missing")
        return cls(
            id=str(_parse_uuid(row.get("id"), "id", optional=False)),
            tenant_id=str(_parse_uuid(row.get("tenant_id"), "tenant_id", optional=False)),
            kitchen_id=str(_parse_uuid(row.get("kitchen_id"), "kitchen_id", optional=False)),
            display_name=printable(name),
            initials=printable(str(row.get("initials") or name[:2].upper())),
            active=bool(row.get("active", True)),
        )

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "kitchen_id": self.kitchen_id,
            "display_name": self.display_name,
            "initials": self.initials,
            "active": self.active,
        }
