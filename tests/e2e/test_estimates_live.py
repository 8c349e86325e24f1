"""A completion on one board changes the estimate another board shows, live, over real
sockets: the server learns in the completion's transaction and the estimate row reaches
every board of the tenant through the kitchen channel (no task row is rewritten)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from caterking_display.ui.screens.confirm import ConfirmScreen
from caterking_server.stack import LocalStack
from tests.e2e.boards import live_board, until
from tests.pg import SERVICE, Kitchen, add_task, as_claims, connect


def claimed_minutes_ago(conn: Any, k: Kitchen, title: str, minutes: int) -> str:
    tid = add_task(conn, k, title=title, station="Veg")
    with as_claims(conn, SERVICE):
        conn.execute(
            "update tasks set status = 'claimed', claimed_by = %s, claimed_device = 'phone',"
            " created_at = now() - interval '1 hour',"
            " claimed_at = now() - make_interval(mins => %s) where id = %s",
            (k.staff[0], minutes, tid),
        )
    return tid


def complete_as_admin(conn: Any, k: Kitchen, tid: str) -> None:
    with as_claims(conn, SERVICE):
        conn.execute(
            "update tasks set status = 'done', completed_by = %s, completed_at = now()"
            " where id = %s",
            (k.staff[0], tid),
        )


async def test_a_completion_on_one_board_changes_the_estimate_on_another(
    stack: LocalStack, kitchen: Kitchen, tmp_path: Path
) -> None:
    with connect(stack.db_dsn) as conn:
        # Two finished in ten minutes each (any path to done teaches the server) …
        for _ in range(2):
            complete_as_admin(conn, kitchen, claimed_minutes_ago(conn, kitchen, "Dice onions", 10))
        # … a third in progress for ten minutes, and one of the same kind waiting.
        third = claimed_minutes_ago(conn, kitchen, "Dice onions", 10)
        waiting = add_task(conn, kitchen, title="Onions, diced", station="Veg")
        kind = conn.execute("select kind from tasks where id = %s", (waiting,)).fetchone()["kind"]
    async with (
        live_board(stack, kitchen, tmp_path / "a", "pass") as (_sa, app_a, pa),
        live_board(stack, kitchen, tmp_path / "b", "grill") as (store_b, app_b, pb),
    ):
        await until(pb, lambda: waiting in app_b._cards)
        assert store_b.estimate(kind, "Veg") is not None  # two samples: borrowed, not exact
        assert store_b.estimate(kind, "Veg").basis.value != "exact"  # type: ignore[union-attr]
        await until(pa, lambda: third in app_a._cards)
        app_a.select(third)
        await pa.press("d")  # claimed on another device: the board asks first
        await until(pa, lambda: isinstance(app_a.screen, ConfirmScreen))
        await pa.press("y")
        started = time.monotonic()
        await until(
            pb,
            lambda: getattr(store_b.estimate(kind, "Veg"), "samples", 0) == 3,
            within=5,
        )
        latency = time.monotonic() - started
        est = store_b.estimate(kind, "Veg")
        assert est is not None and est.basis.value == "exact"
        await until(pb, lambda: app_b._cards[waiting].facts.plan.startswith("≈ 10 min"))
        assert latency < 2.0
