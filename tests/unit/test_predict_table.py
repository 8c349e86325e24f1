"""The board's prediction of an action, row by row of the same table the server's tests
use (tests/action_table.py): a card never shows what the server would not do."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from caterking_display.domain.actions import Action, predict
from caterking_display.domain.task import Priority, Status, Task
from tests.action_table import CASES

T0 = datetime(2026, 3, 14, 11, 0, tzinfo=UTC)
STAFF = ["00000000-0000-4000-8000-00000000c000", "00000000-0000-4000-8000-00000000c001"]


def in_state(state: str) -> Task:
    base = Task(
        id="00000000-0000-4000-8000-000000000001",
        tenant_id="00000000-0000-4000-8000-0000000000a1",
        kitchen_id="00000000-0000-4000-8000-0000000000b1",
        title="Dice onions",
        station="Veg",
        status=Status.PENDING,
        priority=Priority.NORMAL,
        version=1,
        created_at=T0,
        updated_at=T0,
    )
    if state == "pending":
        return base
    if state == "cancelled":
        return base.evolve(status=Status.CANCELLED)
    who = STAFF[int(state[-1])]
    if state.startswith("claimed"):
        return base.evolve(status=Status.CLAIMED, claimed_by=who, claimed_at=T0)
    return base.evolve(
        status=Status.DONE, claimed_by=who, claimed_at=T0, completed_by=who, completed_at=T0
    )


@pytest.mark.parametrize(("fn", "state", "actor", "outcome", "after", "reason"), CASES)
def test_the_prediction_follows_the_contract_table(
    fn: str, state: str, actor: int, outcome: str, after: str, reason: str | None
) -> None:
    action = Action(fn.removesuffix("_task"))
    shown = predict(in_state(state), action, STAFF[actor], "wall-1", T0)
    if outcome == "applied":
        assert shown is not None and shown.status.value == after
    else:  # duplicate or conflict: the card must not show a change the server won't make
        assert shown is None
