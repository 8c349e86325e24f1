"""public.estimate_for: one read contract for every app, for any title."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from postgrest.exceptions import APIError

from caterking_server.stack import LocalStack
from tests.pg import ANON, SERVICE, Kitchen, add_task, connect, seed_kitchen
from tests.schema.prep import History, est_row, estimate_for
from tests.server.helpers import admin_client, anon_client, display_client

KEYS = {"p50_minutes", "p90_minutes", "basis", "similar_to", "samples", "kind"}


@pytest.fixture
def onions(conn: Any, k: Kitchen) -> History:
    """Dice onions: 4 min to set up, 1.5 min a kilo (no noise), and some slicing."""
    hist = History(conn, k)
    for q in [2, 4, 6, 8, 10, 12]:
        hist.done("Dice onions", 4 + 1.5 * q, quantity=q, unit="kg")
    hist.many("Slice leeks", [20, 24, 28])
    return hist


def test_exact_kind_scaled_to_the_quantity(conn: Any, k: Kitchen, onions: History) -> None:
    e = estimate_for(conn, k, "Onions, diced", 20, "KG", "Prep")
    assert set(e) == KEYS
    assert e == {
        "p50_minutes": 34.0,
        "p90_minutes": 34.0,
        "basis": "exact",
        "similar_to": [],
        "samples": 6,
        "kind": "dice onion",
    }
    assert estimate_for(conn, k, "dice ONION", 2, "kg", "Prep")["p50_minutes"] == 7.0


def test_without_quantity_or_in_another_unit_the_flat_figures(
    conn: Any, k: Kitchen, onions: History
) -> None:
    row = est_row(conn, k, "dice onion")
    assert row is not None
    for q, unit in [(None, None), (None, "kg"), (3, None), (3000, "g")]:
        e = estimate_for(conn, k, "Dice onions", q, unit, "Prep")
        assert (e["p50_minutes"], e["p90_minutes"]) == (
            round(row["p50_minutes"], 1),
            round(row["p90_minutes"], 1),
        ), (q, unit)


def test_a_title_never_seen_borrows_and_says_from_what(
    conn: Any, k: Kitchen, onions: History
) -> None:
    e = estimate_for(conn, k, "Finely dice red onions", 10, "kg", "Prep")
    assert (e["basis"], e["similar_to"], e["samples"]) == ("similar", ["dice onion"], 6)
    assert e["kind"] == "dice finely onion red" and e["p50_minutes"] == 19.0
    e = estimate_for(conn, k, "Brine pork loins", None, None, "Prep")
    assert (e["basis"], e["similar_to"], e["samples"]) == ("station", [], 9)
    assert e["p50_minutes"] > 0
    e = estimate_for(conn, k, "Brine pork loins", None, None, "Pastry")
    assert e == {
        "p50_minutes": 0,
        "p90_minutes": 0,
        "basis": "none",
        "similar_to": [],
        "samples": 0,
        "kind": "brine loin pork",
    }
    # Asking writes nothing.
    assert est_row(conn, k, "dice finely onion red") is None


def test_a_kind_with_a_row_gets_the_rows_figures(conn: Any, k: Kitchen, onions: History) -> None:
    add_task(conn, k, title="Dice red onions", quantity=5, unit="kg", station="Prep")
    row = est_row(conn, k, "dice onion red")
    assert row is not None and row["basis"] == "similar"
    e = estimate_for(conn, k, "Red onions, diced", 5, "kg", "Prep")
    expected = row["p50_setup_minutes"] + row["p50_minutes_per_unit"] * 5
    assert e["p50_minutes"] == round(expected, 1)
    assert (e["basis"], e["similar_to"], e["samples"]) == (
        row["basis"],
        row["similar_to"],
        row["samples"],
    )


def test_only_the_callers_tenant(conn: Any, k: Kitchen, onions: History) -> None:
    other = seed_kitchen(conn)
    assert estimate_for(conn, other, "Dice onions", 5, "kg", "Prep")["basis"] == "none"
    # The service role answers for the tenant its token names.
    svc = {**SERVICE, "app_metadata": {"tenant_id": k.tenant_id}}
    assert estimate_for(conn, k, "Dice onions", claims=svc)["basis"] == "exact"


@pytest.mark.parametrize(
    "claims",
    [ANON, SERVICE, {"role": "authenticated", "app_metadata": {}}],
    ids=["anon", "service-without-tenant", "no-tenant"],
)
def test_refused_without_a_signed_in_tenant(conn: Any, k: Kitchen, claims: dict[str, Any]) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        estimate_for(conn, k, "Dice onions", claims=claims)


def test_over_rest_for_any_signed_in_device(stack: LocalStack, kitchen: Kitchen) -> None:
    with connect(stack.db_dsn) as conn:
        History(conn, kitchen).many("Dice onions", [10, 12, 14])
        add_task(conn, kitchen, title="Dice red onions", station="Prep")
    args = {"p_title": "dice ONION", "p_quantity": None, "p_unit": None, "p_station": "Prep"}
    for client in (display_client(stack, kitchen), admin_client(stack, kitchen)):
        got = client.rpc("estimate_for", args).execute().data
        assert got["basis"] == "exact" and got["kind"] == "dice onion" and got["samples"] == 3
        rows = (
            client.table("prep_estimates")
            .select("task_key,basis,similar_to,samples")
            .eq("task_key", "dice onion red")
            .execute()
            .data
        )
        assert rows == [
            {
                "task_key": "dice onion red",
                "basis": "similar",
                "similar_to": ["dice onion"],
                "samples": 3,
            }
        ]
    # A read-only function: GET works too (query-string arguments).
    got = (
        display_client(stack, kitchen)
        .rpc("estimate_for", {**args, "p_quantity": "5", "p_unit": "kg"}, get=True)
        .execute()
        .data
    )
    assert (got["basis"], got["kind"]) == ("exact", "dice onion")
    with pytest.raises(APIError) as err:
        anon_client(stack).rpc("estimate_for", args).execute()
    assert err.value.code == "42501"
