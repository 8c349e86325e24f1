"""Two board apps, headless, against the real local stack over real sockets:
a claim on one shows on the other (issue "The board", item 10)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from caterking_display.domain.task import Status
from caterking_display.ui.widgets.task_card import TaskCard
from caterking_server.stack import LocalStack
from tests.e2e.boards import live_board, until
from tests.pg import Kitchen, add_task, connect


def header_text(app: Any) -> str:
    from caterking_display.ui.widgets.status_line import StatusLine

    return str(app.query_one(StatusLine).render())


def card_in(app: Any, column: str, task_id: str) -> TaskCard | None:
    for card in app.query(f"#col-{column} TaskCard"):
        if getattr(card, "task_id", None) == task_id and card.display:
            return card  # type: ignore[no-any-return]
    return None


def card_text(app: Any, column: str, task_id: str) -> str:
    """What the card says ("" until it is placed and laid out)."""
    card = card_in(app, column, task_id)
    return "" if card is None or not card.content_size.width else str(card.render())


async def test_claim_on_one_board_shows_on_the_other(
    stack: LocalStack, kitchen: Kitchen, tmp_path: Path
) -> None:
    with connect(stack.db_dsn) as conn:
        tid = add_task(conn, kitchen, title="Dice onions", station="Prep")
    async with (
        live_board(stack, kitchen, tmp_path / "pass", "pass") as (store_a, app_a, pa),
        live_board(stack, kitchen, tmp_path / "grill", "grill") as (store_b, app_b, pb),
    ):
        for pilot, app in ((pa, app_a), (pb, app_b)):
            await until(pilot, lambda app=app: card_in(app, "todo", tid) is not None)
            # The header names the kitchen as soon as the board has been fetched.
            await until(pilot, lambda app=app: "Main" in str(header_text(app)))
        # Chef 0 claims on board A (picker: key 1 is the first chef by name).
        app_a.select(tid)
        await pa.press("c")
        await until(pa, lambda: app_a.screen.__class__.__name__ != "Screen")
        await pa.press("1")
        await until(pa, lambda: card_in(app_a, "doing", tid) is not None)
        started = time.monotonic()
        # Board B shows it in progress, confirmed, with the chef's name.
        await until(pb, lambda: card_in(app_b, "doing", tid) is not None, within=5)
        latency = time.monotonic() - started
        vt = store_b.get(tid)
        assert vt is not None and vt.task.status is Status.CLAIMED and not vt.pending
        # The card is laid out after it is placed: wait for its text, not its first frame.
        await until(
            pb, lambda: "Chef 0" in str(getattr(card_in(app_b, "doing", tid), "render", str)())
        )
        assert latency < 2.0
        # Board A's op was confirmed by the server (no pending mark left).
        await until(pa, lambda: not store_a.pending_ops())
    with connect(stack.db_dsn) as conn:
        row = conn.execute("select status, version from tasks where id = %s", (tid,)).fetchone()
    assert row is not None and row["status"] == "claimed" and row["version"] == 2
