"""Allergens reach a live board through Realtime like any other column."""

from __future__ import annotations

from typing import Any

import psycopg

from caterking_display.domain.sync_status import ConnectionState as S
from caterking_server.stack import LocalStack
from tests.pg import SERVICE, Kitchen, add_task, as_claims
from tests.sync.integration.conftest import Clients
from tests.waiting import until


async def test_admin_adds_allergens_and_the_board_shows_them(
    clients: Clients, kitchen: Kitchen, db: psycopg.Connection[Any], sync_stack: LocalStack
) -> None:
    tid = add_task(db, kitchen, title="Lemon tart shells")
    board = clients.make("pass-a", url=sync_stack.url)
    await until(lambda: board.status.state is S.LIVE and tid in board.store.view().tasks, 10)
    assert board.store.view().tasks[tid].task.allergens == ()
    with as_claims(db, SERVICE):
        db.execute(
            "update tasks set allergens = '{milk,gluten,eggs}', "
            "notes = 'For the Hughes wedding' where id = %s",
            (tid,),
        )
    await until(lambda: board.store.view().tasks[tid].task.allergens != (), 5)
    shown = board.store.view().tasks[tid].task
    assert shown.allergens == ("gluten", "eggs", "milk")  # canonical order
    assert shown.notes == "For the Hughes wedding" and shown.version == 2
