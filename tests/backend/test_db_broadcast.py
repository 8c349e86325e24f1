"""A change broadcast by the database becomes the same ChangeEvent postgres_changes
gives; anything else on those event names is dropped, never raised."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caterking_display.backend.realtime_link import db_change

ROW = {"id": "00000000-0000-4000-8000-000000000001", "version": 3, "title": "Dice onions"}


def test_an_update_as_broadcast_changes_shapes_it() -> None:
    payload = {
        "operation": "UPDATE",
        "schema": "public",
        "table": "tasks",
        "record": ROW,
        "old_record": {"id": ROW["id"]},
    }
    ev = db_change("UPDATE", payload)
    assert ev is not None
    assert (ev.table, ev.type, ev.record, ev.old_record) == (
        "tasks",
        "UPDATE",
        ROW,
        {"id": ROW["id"]},
    )


def test_a_delete_carries_the_old_key() -> None:
    ev = db_change(
        "DELETE", {"operation": "DELETE", "table": "tasks", "record": None, "old_record": ROW}
    )
    assert ev is not None and ev.record is None and ev.old_record == ROW


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"table": "tasks", "operation": "INSERT"},  # no record
        {"table": "tasks", "operation": "UPDATE", "record": ROW},  # event and operation differ
        {"table": 7, "operation": "INSERT", "record": ROW},
        {"table": "tasks", "operation": "INSERT", "record": [1, 2]},
        {"table": "tasks", "operation": "INSERT", "record": ROW, "schema": "auth"},
        {"table": "tasks", "operation": "DELETE", "record": ROW, "old_record": None},
    ],
)
def test_malformed_payloads_are_dropped(payload: dict[str, Any]) -> None:
    event = "DELETE" if payload.get("operation") == "DELETE" else "INSERT"
    assert db_change(event, payload) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(
    event=st.sampled_from(["INSERT", "UPDATE", "DELETE"]),
    payload=st.dictionaries(
        st.sampled_from(["operation", "schema", "table", "record", "old_record", "x"]),
        json_values,
    ),
)
def test_never_raises(event: str, payload: dict[str, Any]) -> None:
    ev = db_change(event, payload)
    assert ev is None or (ev.type == event and isinstance(ev.table, str))


def test_a_truncated_row_is_marked_partial() -> None:
    ev = db_change(
        "UPDATE",
        {"operation": "UPDATE", "table": "tasks", "record": {"id": ROW["id"], "version": 9},
         "old_record": {"id": ROW["id"]}, "truncated": True},
    )  # fmt: skip
    assert ev is not None and ev.partial
    assert (
        db_change("UPDATE", {"operation": "UPDATE", "table": "tasks", "record": ROW}).partial
        is False
    )  # type: ignore[union-attr]
