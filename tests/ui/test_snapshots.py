"""SVG snapshots of the board. Regenerate with `pytest tests/ui --snapshot-update`, then LOOK.

Everything that moves is pinned: a FixedClock, fixed data (tests/ui/data.py), animations
off, explicit theme, fixed sizes, long toast timeouts; NO_COLOR/TEXTUAL_THEME are removed
by an autouse fixture in conftest.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from caterking_display.domain.actions import Action
from caterking_display.domain.clock import FixedClock
from caterking_display.domain.sync_status import ConnectionState, ErrorKind, SyncStatus
from caterking_display.domain.task import Priority, Status
from caterking_display.store import BoardStore
from caterking_display.ui.app import BoardApp
from caterking_display.ui.card_facts import ColumnId
from tests.ui.conftest import LIVE, SETTINGS, Server, build, wait_for
from tests.ui.data import (
    ANA,
    BEN,
    CHLOE,
    STAFF,
    T0,
    busy_board,
    estimate,
    small_board,
    staff,
    task,
    uid,
)

SMALL = (80, 24)
LARGE = (160, 45)
BOTH = [pytest.param(SMALL, id="80x24"), pytest.param(LARGE, id="160x45")]


def card_states() -> list[Any]:
    """One card in each state: rush, due soon, late, plain, claimed, pending-sync, done."""
    return [
        task(
            "Cure gravlax", station="Fish", qty="4", unit="sides", priority=Priority.RUSH, due_in=20
        ),
        task("Peel carrots", qty="8", due_in=6),
        task("Portion salmon fillets", station="Fish", qty="80", unit="pcs", due_in=-8),
        task("Wash salad leaves", qty="15", due_in=None, priority=Priority.HIGH),
        task(
            "Roast chicken thighs",
            station="Grill",
            qty="60",
            unit="pcs",
            status=Status.CLAIMED,
            claimed_by=ANA,
            due_in=30,
            claimed_ago=12,
        ),
        task("Skewer halloumi", station="Grill", qty="120", unit="pcs", due_in=50),
        task(
            "Lemon tart shells",
            station="Pastry",
            qty="48",
            unit="pcs",
            status=Status.DONE,
            claimed_by=BEN,
            completed_ago=4,
        ),
        task(
            "Pipe choux buns for the Hughes wedding dessert table",
            station="Pastry",
            qty="200",
            unit="pcs",
            due_in=90,
        ).evolve(
            allergens=("gluten", "eggs", "milk"),
            notes="Vanilla crème pât only — the bride is allergic to nuts. Label the tray.",
        ),
    ]


def states_app(**settings: Any) -> BoardApp:
    app, store, _ = build(card_states(), **settings)
    store.enqueue(Action.CLAIM, uid("task/Skewer halloumi"), CHLOE)  # pending-sync card
    return app


BANNERS: dict[str, SyncStatus] = {
    "connecting": SyncStatus(
        ConnectionState.CONNECTING, since=T0, board_saved_at=T0 - timedelta(minutes=5)
    ),
    "live": LIVE,
    "reconnecting": SyncStatus(
        ConnectionState.RECONNECTING,
        since=T0 - timedelta(seconds=20),
        attempt=3,
        next_retry_at=T0 + timedelta(seconds=8),
        pending_count=1,
        devices_online=0,
    ),
    "offline": SyncStatus(
        ConnectionState.OFFLINE,
        since=T0 - timedelta(minutes=12),
        pending_count=2,
        oldest_pending_at=T0 - timedelta(minutes=10),
        board_saved_at=T0 - timedelta(minutes=13),
    ),
    "sign_in_failed": SyncStatus(
        ConnectionState.AUTH_FAILED,
        since=T0,
        last_error="Invalid login credentials",
        error_kind=ErrorKind.SIGN_IN,
        error_code="invalid_credentials",
    ),
    "stale": SyncStatus(
        ConnectionState.LIVE,
        since=T0 - timedelta(minutes=30),
        last_sync_at=T0 - timedelta(minutes=4),
        last_message_at=T0 - timedelta(minutes=4),
        devices_online=2,
    ),
}


@pytest.mark.parametrize("size", BOTH)
def test_empty_board(snap_compare: Any, size: tuple[int, int]) -> None:
    app, _, _ = build([])
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", BOTH)
def test_busy_board(snap_compare: Any, size: tuple[int, int]) -> None:
    app, _, _ = build(busy_board())
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", BOTH)
def test_card_states(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(states_app(), terminal_size=size)


@pytest.mark.parametrize("size", BOTH)
@pytest.mark.parametrize("state", list(BANNERS))
def test_banner(snap_compare: Any, state: str, size: tuple[int, int]) -> None:
    app, _, _ = build(small_board(), status=BANNERS[state])
    assert snap_compare(app, terminal_size=size)


def test_announcement(snap_compare: Any) -> None:
    status = SyncStatus(
        ConnectionState.LIVE,
        since=T0,
        last_message_at=T0,
        last_sync_at=T0,
        devices_online=3,
        announcement="Wedding party: canapés out at 12:30 sharp",
    )
    app, _, _ = build(small_board(), status=status)
    assert snap_compare(app, terminal_size=SMALL)


@pytest.mark.parametrize("size", BOTH)
def test_picker(snap_compare: Any, size: tuple[int, int]) -> None:
    app, _, _ = build(small_board())
    assert snap_compare(app, terminal_size=size, press=["enter"])


@pytest.mark.parametrize("size", BOTH)
def test_conflict_note(snap_compare: Any, size: tuple[int, int]) -> None:
    app, store, _ = build(small_board(), skip_picker=True, default_staff_id=ANA)

    async def conflict(pilot: Pilot[Any]) -> None:
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        base = store.confirmed(uid("task/Dice onions"))
        assert base is not None
        Server(store).conflict(
            base.evolve(status=Status.CLAIMED, claimed_by=CHLOE, claimed_at=T0, version=2)
        )
        await wait_for(pilot, lambda: any(c.notes for c in app._columns.values()))

    assert snap_compare(app, terminal_size=size, run_before=conflict)


@pytest.mark.parametrize("size", BOTH)
def test_help(snap_compare: Any, size: tuple[int, int]) -> None:
    app, _, _ = build(small_board())
    assert snap_compare(app, terminal_size=size, press=["question_mark"])


def test_refused_actions(snap_compare: Any) -> None:
    app, store, _ = build(small_board(), skip_picker=True, default_staff_id=BEN)

    async def refused(pilot: Pilot[Any]) -> None:
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        Server(store).reject("inactive_staff")
        await wait_for(pilot, lambda: bool(store.failed_actions()))
        app.clear_notifications()
        await pilot.press("f")

    assert snap_compare(app, terminal_size=LARGE, run_before=refused)


@pytest.mark.parametrize("size", BOTH)
def test_high_contrast(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(states_app(theme="high-contrast"), terminal_size=size)


def test_narrow_station_filter(snap_compare: Any) -> None:
    app, _, _ = build(busy_board())
    assert snap_compare(app, terminal_size=SMALL, press=["s", "s"])


@pytest.mark.parametrize("size", BOTH)
def test_never_synced_offline(snap_compare: Any, size: tuple[int, int]) -> None:
    # Nothing ever synced: the columns and the banner must not look like a quiet kitchen.
    offline = SyncStatus(ConnectionState.OFFLINE, since=T0 - timedelta(minutes=3))
    app, _, _ = build([], synced=False, status=offline)
    assert snap_compare(app, terminal_size=size)


# --- issue 8: trust on the kitchen floor ---------------------------------------------


def _claimed_elsewhere(store: Any, task_id: str, by: str) -> Any:
    base = store.confirmed(task_id)
    assert base is not None
    return base.evolve(
        status=Status.CLAIMED,
        claimed_by=by,
        claimed_at=T0,
        claimed_device="Pass display",
        version=base.version + 1,
    )


@pytest.mark.parametrize("size", BOTH)
def test_confirm_done_for_a_chef_on_another_device(
    snap_compare: Any, size: tuple[int, int]
) -> None:
    app, _, _ = build(small_board())
    assert snap_compare(app, terminal_size=size, press=["l", "d"])


@pytest.mark.parametrize("size", BOTH)
def test_recall_list(snap_compare: Any, size: tuple[int, int]) -> None:
    app, _, _ = build(busy_board())
    assert snap_compare(app, terminal_size=size, press=["r"])


@pytest.mark.parametrize("size", BOTH)
def test_task_details(snap_compare: Any, size: tuple[int, int]) -> None:
    app, _, _ = build(card_states())

    async def open_details(pilot: Pilot[Any]) -> None:
        app.select(uid("task/Pipe choux buns for the Hughes wedding dessert table"))
        await pilot.press("i")

    assert snap_compare(app, terminal_size=size, run_before=open_details)


@pytest.mark.parametrize("size", BOTH)
def test_undo_after_a_claim(snap_compare: Any, size: tuple[int, int]) -> None:
    app, _, _ = build(small_board())
    assert snap_compare(app, terminal_size=size, press=["enter", "2"])


@pytest.mark.parametrize("size", BOTH)
def test_lost_claim_note_over_the_column(snap_compare: Any, size: tuple[int, int]) -> None:
    app, store, _ = build(small_board())

    async def lose(pilot: Pilot[Any]) -> None:
        await pilot.press("enter", "1")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        app.clear_notifications()
        Server(store).conflict(_claimed_elsewhere(store, uid("task/Dice onions"), CHLOE))
        await wait_for(pilot, lambda: bool(app._columns[ColumnId.DOING].notes))

    assert snap_compare(app, terminal_size=size, run_before=lose)


@pytest.mark.parametrize("size", BOTH)
def test_a_press_on_a_card_that_just_changed_says_why(
    snap_compare: Any, size: tuple[int, int]
) -> None:
    """The 3 s guard: the claim was lost to Chloe and the chef pressed at once; nothing
    is recorded, the card is marked and the note says why (the clock does not move)."""
    app, store, _ = build(small_board())

    async def pressed(pilot: Pilot[Any]) -> None:
        await pilot.press("enter", "1")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        Server(store).conflict(_claimed_elsewhere(store, uid("task/Dice onions"), CHLOE))
        await wait_for(pilot, lambda: app._cards[uid("task/Dice onions")].facts.who is not None)
        app.clear_notifications()
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: any("just changed" in n.text for c in app._columns.values() for n in c.notes),
        )

    assert snap_compare(app, terminal_size=size, run_before=pressed)


@pytest.mark.parametrize("size", BOTH)
def test_remote_claim_leaves_the_selection_in_place(
    snap_compare: Any, size: tuple[int, int]
) -> None:
    app, store, _ = build(small_board())

    async def taken(pilot: Pilot[Any]) -> None:
        store.apply_server_task(_claimed_elsewhere(store, uid("task/Dice onions"), CHLOE))
        await wait_for(pilot, lambda: bool(app._columns[ColumnId.TODO].notes))

    assert snap_compare(app, terminal_size=size, run_before=taken)


@pytest.mark.parametrize("size", BOTH)
def test_new_rush_alert(snap_compare: Any, size: tuple[int, int]) -> None:
    app, store, _ = build(small_board(), bell_on_rush=False)

    async def rush(pilot: Pilot[Any]) -> None:
        store.apply_server_task(
            task("Emergency canapés", station="Pastry", priority=Priority.RUSH, due_in=15)
        )
        await wait_for(pilot, lambda: bool(app._rush_alert))

    assert snap_compare(app, terminal_size=size, run_before=rush)


@pytest.mark.parametrize("size", BOTH)
def test_paged_column_says_urgent_above(snap_compare: Any, size: tuple[int, int]) -> None:
    app, _, _ = build(busy_board())
    assert snap_compare(app, terminal_size=size, press=["pagedown"])


@pytest.mark.parametrize("size", BOTH)
def test_picker_with_more_than_nine_chefs(snap_compare: Any, size: tuple[int, int]) -> None:
    app, store, _ = build(small_board())
    crew = [staff(f"Chef {chr(65 + n)}", f"C{chr(65 + n)}") for n in range(8)]
    store.replace_board(small_board(), [*STAFF, *crew])
    assert snap_compare(app, terminal_size=size, press=["enter", "0"])


@pytest.mark.parametrize("size", BOTH)
def test_kiosk_mark(snap_compare: Any, size: tuple[int, int]) -> None:
    app, _, _ = build(small_board(), kiosk=True)
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", BOTH)
def test_damaged_board_file_notice(
    snap_compare: Any, size: tuple[int, int], tmp_path: Path
) -> None:
    path = tmp_path / "board.sqlite3"
    first = BoardStore(path, FixedClock(T0), "wall-1")
    first.replace_board(small_board(), STAFF)
    for name in ("Dice onions", "Blanch green beans"):
        first.enqueue(Action.CLAIM, uid(f"task/{name}"), ANA)
    first.close()
    with path.open("r+b") as f:
        f.write(b"\xab" * 100)
    store = BoardStore.open(path, FixedClock(T0), "wall-1")
    app = BoardApp(store, FixedClock(T0), SETTINGS, status=LIVE)
    assert snap_compare(app, terminal_size=size)


# --- issue 9: learned estimates -----------------------------------------------------


def estimates_app() -> BoardApp:
    board = [
        task("Dice onions", qty="10", due_in=50, kind="dice onion"),
        task("Onions, diced", qty="6", due_in=70, kind="dice onion"),
        task(
            "Reduce veal jus",
            station="Sauce",
            qty="10",
            unit="l",
            due_in=95,
            kind="jus reduce veal",
        ),
        task("Brunoise celeriac", qty="2", due_in=80, kind="brunoise celeriac"),
        task(
            "Roast chicken thighs",
            station="Grill",
            qty="60",
            unit="pcs",
            status=Status.CLAIMED,
            claimed_by=ANA,
            claimed_ago=25,
            due_in=20,
            kind="chicken roast thigh",
        ),
        task(
            "Glaze pork belly",
            station="Grill",
            status=Status.CLAIMED,
            claimed_by=BEN,
            claimed_ago=5,
            due_in=40,
            kind="belly glaze pork",
        ),
    ]
    ests = [
        estimate("dice onion", unit="kg", per_unit=(1.5, 2.5), setup=(4, 6)),
        estimate(
            "jus reduce veal", "Sauce", 90, 110, basis="similar", similar_to=("jus reduce lamb",)
        ),
        estimate("brunoise celeriac", p50=0, p90=0, basis="none", samples=0),
        estimate("chicken roast thigh", "Grill", 14, 20),
        estimate("belly glaze pork", "Grill", 18, 26, basis="station", samples=60),
    ]
    app, _, _ = build(board, estimates=ests)
    return app


@pytest.mark.parametrize("size", BOTH)
def test_estimates_on_cards(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(estimates_app(), terminal_size=size)


@pytest.mark.parametrize("size", BOTH)
def test_all_day_panel(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(estimates_app(), terminal_size=size, press=["a"])


@pytest.mark.parametrize("size", BOTH)
def test_details_say_the_basis(snap_compare: Any, size: tuple[int, int]) -> None:
    app = estimates_app()

    async def open_details(pilot: Pilot[Any]) -> None:
        app.select(uid("task/Reduce veal jus"))
        await pilot.press("i")

    assert snap_compare(app, terminal_size=size, run_before=open_details)


@pytest.mark.parametrize("size", BOTH)
def test_batch_claim_picker(snap_compare: Any, size: tuple[int, int]) -> None:
    app = estimates_app()

    async def batch(pilot: Pilot[Any]) -> None:
        app.select(uid("task/Dice onions"))
        await pilot.press("b")

    assert snap_compare(app, terminal_size=size, run_before=batch)


# --- issue 12: setting up a display -----------------------------------------------


@pytest.mark.parametrize("size", BOTH)
def test_setup_first_run(snap_compare: Any, size: tuple[int, int]) -> None:
    from tests.ui.test_setup_screen import GOOD, Port, setup_app

    port = Port()
    app = setup_app(port, replace(GOOD, password="wrong"))

    async def checked(pilot: Pilot[Any]) -> None:
        await wait_for(
            pilot,
            lambda: (
                bool(port.checked)
                and "refused" in app.screen.query_one("#setup-checks").render().plain
            ),
            5,
        )  # type: ignore[attr-defined]

    assert snap_compare(app, terminal_size=size, run_before=checked)


@pytest.mark.parametrize("size", BOTH)
def test_setup_with_the_on_screen_keyboard(snap_compare: Any, size: tuple[int, int]) -> None:
    from tests.ui.test_setup_screen import GOOD, Port, setup_app

    port = Port()
    app = setup_app(port, replace(GOOD, password=""))

    async def keyboard(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: bool(port.checked), 5)
        await pilot.press("f2")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=keyboard)
