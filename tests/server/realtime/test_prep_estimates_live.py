"""Learned estimates reach the boards through Realtime, scoped to the tenant by RLS."""

from __future__ import annotations

from typing import Any

from tests.pg import connect
from tests.schema.prep import History

from .conftest import Stack, wait_for
from .helpers import subscribe_changes


async def test_a_display_hears_its_tenants_estimates_only(rts: Stack) -> None:
    mine, other = rts.seed(), rts.seed()
    rec = await subscribe_changes(
        rts, rts.device_token(mine), bindings=[{"event": "*", "table": "prep_estimates"}]
    )
    try:
        with connect(rts.db_url) as conn:
            History(conn, other).many("Dice onions", [10, 10, 10])
            History(conn, mine).many("Dice onions", [10, 12, 14])

        def records() -> list[dict[str, Any]]:
            return [c["data"]["record"] for c in rec.changes]

        await wait_for(
            lambda: any(r.get("basis") == "exact" for r in records()), what="the exact row"
        )
        assert {r["tenant_id"] for r in records()} == {mine.tenant_id}
        exact = next(r for r in records() if r["basis"] == "exact")
        assert exact["task_key"] == "dice onion" and exact["station"] == "Prep"
        assert (exact["samples"], exact["similar_to"], exact["p50_minutes"]) == (3, [], 12)
        # Each change is one row event: no task row is rewritten for it.
        assert {c["data"]["table"] for c in rec.changes} == {"prep_estimates"}
    finally:
        await rec.client.close()
