"""Malformed server rows are refused with RowError, never another exception."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from caterking_display.domain.task import RowError, Task


def row(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "tenant_id": str(uuid.uuid4()),
        "kitchen_id": str(uuid.uuid4()),
        "title": "Dice onions",
        "status": "pending",
        "priority": 0,
        "version": 1,
        "created_at": "2026-11-25T10:00:00+00:00",
        "updated_at": "2026-11-25T10:00:00Z",
    }
    base.update(over)
    return base


def test_good_row_round_trips() -> None:
    t = Task.from_row(row(quantity=2.5, unit="kg"))
    assert Task.from_row(t.to_row()) == t


@pytest.mark.parametrize(
    "over",
    [
        {"version": 1e999},
        {"priority": float("inf")},
        {"version": "seven"},
        {"status": "eaten"},
        {"id": "not-a-uuid"},
        {"created_at": "yesterday"},
        {"updated_at": "2026-11-25T10:00:00"},
        {"title": None},
        {"quantity": "lots"},
    ],
)
def test_malformed_rows_raise_row_error(over: dict[str, Any]) -> None:
    with pytest.raises(RowError):
        Task.from_row(row(**over))
