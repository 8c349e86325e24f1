"""Malformed server rows are refused with RowError, never another exception."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from caterking_display.domain.task import ALLERGEN_LABELS, ALLERGEN_WORDS, RowError, Task


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


def test_a_row_without_allergens_has_none() -> None:
    assert Task.from_row(row()).allergens == ()
    assert Task.from_row(row(allergens=None)).allergens == ()
    assert Task.from_row(row(allergens=[])).allergens == ()


def test_allergens_are_known_words_once_each_in_the_canonical_order() -> None:
    t = Task.from_row(row(allergens=["milk", " Gluten", "EGGS", "milk", "walnut", 7, None]))
    assert t.allergens == ("gluten", "eggs", "milk")
    assert t.to_row()["allergens"] == ["gluten", "eggs", "milk"]
    assert Task.from_row(t.to_row()) == t


def test_every_allergen_word_has_a_label_and_a_row_may_list_all_14() -> None:
    assert len(ALLERGEN_WORDS) == len(set(ALLERGEN_WORDS)) == 14
    assert set(ALLERGEN_LABELS) == set(ALLERGEN_WORDS)
    assert all(w == w.lower().strip() and ALLERGEN_LABELS[w] for w in ALLERGEN_WORDS)
    shuffled = list(reversed(ALLERGEN_WORDS))
    assert Task.from_row(row(allergens=shuffled)).allergens == ALLERGEN_WORDS


@pytest.mark.parametrize("value", ["milk", "{milk,eggs}", {"milk": True}, 3])
def test_allergens_that_are_not_a_list_raise_row_error(value: Any) -> None:
    with pytest.raises(RowError, match="allergens"):
        Task.from_row(row(allergens=value))


def test_the_demo_catalogue_uses_known_words_in_the_canonical_order() -> None:
    from caterking_server.kitchen_catalogue import (
        ALLERGENS_BY_TITLE,
        NOTES_BY_TITLE,
        TASK_TEMPLATES,
    )

    titles = {t[0] for t in TASK_TEMPLATES}
    assert set(ALLERGENS_BY_TITLE) <= titles and set(NOTES_BY_TITLE) <= titles
    for title, words in ALLERGENS_BY_TITLE.items():
        assert Task.from_row(row(title=title, allergens=list(words))).allergens == words, title
    assert ALLERGENS_BY_TITLE["Lemon tart shells"] == ("gluten", "eggs", "milk")
    assert "Dice onions" not in ALLERGENS_BY_TITLE
