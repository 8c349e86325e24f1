"""Learned estimates in the store: kept with the board, and a changed one tells only the
cards it applies to (no task row changes)."""

from __future__ import annotations

from pathlib import Path

from caterking_display.domain.estimates import Estimate
from caterking_display.store import ESTIMATES_CHANGED

from .factory import STAFF, TENANT, Recorder, new_store, task, tid


def est(kind: str, station: str = "grill", p50: float = 10.0) -> Estimate:
    return Estimate.from_row(
        {
            "tenant_id": TENANT,
            "task_key": kind,
            "station": station,
            "p50_minutes": p50,
            "p90_minutes": p50 * 1.6,
            "basis": "exact",
            "samples": 9,
        }
    )


def test_a_changed_estimate_names_only_the_tasks_it_applies_to(tmp_path: Path) -> None:
    s = new_store(tmp_path / "board.db")
    board = [
        task(1, kind="dice onion"),
        task(2, kind="dice onion"),
        task(3, kind="peel carrot"),
        task(4, kind="dice onion", station="veg"),
    ]
    s.replace_board(board, STAFF, [est("dice onion"), est("peel carrot")])
    versions = {t.id: s.confirmed(t.id).version for t in board}  # type: ignore[union-attr]
    rec = Recorder()
    s.subscribe(rec)
    assert s.apply_server_estimate(est("dice onion", p50=14.0))
    assert rec.calls == [frozenset({tid(1), tid(2)})]
    assert not s.apply_server_estimate(est("dice onion", p50=14.0))  # unchanged: silent
    assert s.estimate("dice onion", "grill") == est("dice onion", p50=14.0)
    assert s.estimate(None, "grill") is None
    assert {t.id: s.confirmed(t.id).version for t in board} == versions  # type: ignore[union-attr]
    s.close()
    again = new_store(tmp_path / "board.db")  # an offline start still has them
    assert again.estimate("dice onion", "grill") == est("dice onion", p50=14.0)
    assert again.estimate("peel carrot", "grill") == est("peel carrot")
    again.close()


def test_a_full_fetch_replaces_the_estimates_and_says_so() -> None:
    s = new_store()
    s.replace_board([task(1, kind="dice onion")], STAFF, [est("dice onion")])
    rec = Recorder()
    s.subscribe(rec)
    s.replace_board([task(1, kind="dice onion")], STAFF, [est("dice onion", p50=20.0)])
    assert ESTIMATES_CHANGED in rec.calls[-1]
    s.replace_board([task(1, kind="dice onion")], STAFF, None)  # a server without them
    assert s.estimate("dice onion", "grill") == est("dice onion", p50=20.0)
