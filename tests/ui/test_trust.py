"""Trust on the kitchen floor: the right chef, nothing done by accident, urgent work first.

Each test reproduces something seen when the board was tried on a busy Friday.
"""

from __future__ import annotations

import sys
from pathlib import Path

from caterking_display.domain.actions import Action
from caterking_display.domain.clock import FixedClock
from caterking_display.domain.task import Priority, Staff, Status
from caterking_display.store import BoardStore
from caterking_display.ui.app import BoardApp
from caterking_display.ui.card_facts import ColumnId
from caterking_display.ui.screens.confirm import ConfirmScreen
from caterking_display.ui.screens.help import HelpScreen
from caterking_display.ui.screens.recall import RecallScreen
from caterking_display.ui.screens.staff_picker import StaffPicker
from caterking_display.ui.screens.task_detail import TaskDetailScreen
from caterking_display.ui.undo import UNDO_SETTLE_SECONDS
from caterking_display.ui.widgets.action_bar import BarButton
from caterking_display.ui.widgets.status_line import StatusLine
from caterking_display.ui.widgets.store_notice import StoreNotice
from tests.ui.conftest import (
    LIVE,
    SETTINGS,
    Server,
    build,
    ops,
    screen_text,
    wait_for,
    widget,
)
from tests.ui.data import (
    ANA,
    BEN,
    CHLOE,
    KITCHEN,
    STAFF,
    T0,
    TENANT,
    small_board,
    task,
    uid,
)

SIZE = (100, 30)
DICE = uid("task/Dice onions")
BEANS = uid("task/Blanch green beans")
ROAST = uid("task/Roast chicken thighs")
TART = uid("task/Lemon tart shells")


def notes(app: BoardApp) -> list[str]:
    """What the board says over its columns, newest first per column."""
    return [n.text for column in app._columns.values() for n in column.notes]


def claimed_elsewhere(store, task_id: str, by: str, version: int = 2):  # type: ignore[no-untyped-def]
    base = store.confirmed(task_id)
    assert base is not None
    return base.evolve(
        status=Status.CLAIMED,
        claimed_by=by,
        claimed_at=base.updated_at,
        claimed_device="Pass display",
        version=version,
    )


# --- 1. work in another chef's name -------------------------------------------------


async def test_a_remote_claim_never_moves_the_selection_to_another_column() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        assert app.selected_id == DICE  # first in To do
        store.apply_server_task(claimed_elsewhere(store, DICE, CHLOE))
        await wait_for(pilot, lambda: app._cards[DICE].column is ColumnId.DOING)
        assert app.selected_id == BEANS  # the same place in To do, not Chloe's card
        todo = app._columns[ColumnId.TODO]
        assert todo.notes, "a note says what happened"
        assert todo.notes[0].text == "Dice onions — claimed by Chloe Martin on Pass display"
        await pilot.press("enter")  # claims the card now under the selection, not Chloe's
        await wait_for(pilot, lambda: isinstance(app.screen, StaffPicker))
        assert app.screen.task_id == BEANS  # type: ignore[attr-defined]


async def test_the_lost_claim_of_the_report_cannot_complete_as_the_winner() -> None:
    # Seen: a chef picked Maria, lost the claim to Sam's board, the highlight jumped to
    # Sam's card and the next Enter completed it as Sam.
    app, store, clock = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "1")  # claim Dice onions as Ana: optimistic, In progress
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        Server(store).conflict(claimed_elsewhere(store, DICE, CHLOE))
        await wait_for(pilot, lambda: app._cards[DICE].facts.who == "Chloe Martin")
        await pilot.press("enter")  # at once: "it just changed under my finger"
        await wait_for(pilot, lambda: any("just changed" in t for t in notes(app)))
        assert store.pending_ops() == [] and not isinstance(app.screen, ConfirmScreen)
        assert widget(app, DICE).has_class("-changed")
        clock.advance(3.5)
        await wait_for(pilot, lambda: not widget(app, DICE).has_class("-changed"))
        await pilot.press("enter")  # claimed on another device: asks, never silent
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Mark Chloe Martin's task done?" in screen_text(app)
        await pilot.press("enter")  # the focus is on "No": a second bump cancels
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert store.pending_ops() == []


async def test_a_tap_on_a_card_that_just_changed_is_ignored_and_says_why() -> None:
    app, store, clock = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: widget(app, BEANS).content_size.width > 0)
        store.apply_server_task(claimed_elsewhere(store, BEANS, BEN))
        await wait_for(pilot, lambda: app._cards[BEANS].column is ColumnId.DOING)
        card = widget(app, BEANS)
        start = card.button_x()
        assert start is not None
        await pilot.click(card, offset=(start + 1, 1))
        await wait_for(pilot, lambda: any("just changed" in t for t in notes(app)))
        assert "claimed by Ben Okafor on Pass display" in " ".join(notes(app))
        assert not isinstance(app.screen, ConfirmScreen) and store.pending_ops() == []
        clock.advance(3.5)
        await pilot.pause()
        await pilot.click(card, offset=(start + 1, 1))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))


async def test_a_picker_open_for_a_task_another_board_takes_closes_and_says_so() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, StaffPicker))
        store.apply_server_task(claimed_elsewhere(store, DICE, CHLOE))
        await wait_for(pilot, lambda: not isinstance(app.screen, StaffPicker))
        assert store.pending_ops() == []
        notes = [n.text for c in app._columns.values() for n in c.notes]
        assert any("claimed by Chloe Martin on Pass display" in n for n in notes), notes


# --- 2. undo ------------------------------------------------------------------------


async def test_undo_before_sending_withdraws_the_action_it_is_never_sent() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "2")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        assert app._cards[DICE].column is ColumnId.DOING
        undo = app.query_one("#bar-undo", BarButton)
        assert not undo.disabled and "5s" in str(undo.label)
        await pilot.press("z")
        await wait_for(pilot, lambda: app._cards[DICE].column is ColumnId.TODO)
        assert store.pending_ops() == []  # withdrawn: nothing will reach the server
        assert app.selected_id == DICE
        assert undo.disabled


async def test_undo_after_sending_queues_the_opposite_action_with_its_own_op_id() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "2")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        claim = store.pending_ops()[0]
        Server(store).confirm()  # it reached the server and was applied
        await pilot.click("#bar-undo")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        assert ops(store) == [(Action.RELEASE, DICE, BEN)]
        assert store.pending_ops()[0].op_id != claim.op_id
        assert app._cards[DICE].column is ColumnId.TODO


async def test_undo_of_a_send_in_flight_waits_for_it_then_compensates() -> None:
    mine = task("Sear scallops", station="Fish", status=Status.CLAIMED, claimed_by=BEN)
    mine = mine.evolve(claimed_device="wall-1")
    app, store, _ = build([*small_board(), mine])
    async with app.run_test(size=SIZE) as pilot:
        app.select(mine.id)
        await pilot.press("d")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        done = store.pending_ops()[0]
        assert store.mark_sending(done.op_id)  # the outbox handed it to the server
        await pilot.press("z")
        await wait_for(pilot, lambda: any("waiting for its send" in t for t in notes(app)))
        assert len(store.pending_ops()) == 1  # nothing decided while the send is out
        Server(store).confirm()  # it arrived and was applied
        await wait_for(pilot, lambda: len(store.pending_ops()) == 2)
        # Done → back to claimed by the same chef: reopen, then claim again.
        assert ops(store) == [(Action.REOPEN, mine.id, BEN), (Action.CLAIM, mine.id, BEN)]
        assert app._cards[mine.id].column is ColumnId.DOING


async def test_undo_of_a_send_in_flight_that_never_left_withdraws_it() -> None:
    """Seen in a loaded run: offline, the chef's undo came while the outbox was retrying
    the claim (a connect that then failed); it became a claim and a release, both sent
    once the network was back. Now the undo waits for that send to end: refused, so the
    claim never left, and it is withdrawn."""
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "2")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        [claim] = store.pending_ops()
        assert store.mark_sending(claim.op_id)
        await pilot.press("z")
        await wait_for(pilot, lambda: any("waiting for its send" in t for t in notes(app)))
        store.record_attempt(claim.op_id, "connection refused", reached_server=False)
        await wait_for(pilot, lambda: not store.pending_ops())
        assert app._cards[DICE].column is ColumnId.TODO
        assert any("it was never sent" in t for t in notes(app))


async def test_undo_of_a_send_that_never_ends_compensates_after_the_wait() -> None:
    app, store, clock = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "2")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        [claim] = store.pending_ops()
        assert store.mark_sending(claim.op_id)
        await pilot.press("z")
        await wait_for(pilot, lambda: any("waiting for its send" in t for t in notes(app)))
        clock.advance(UNDO_SETTLE_SECONDS + 0.1)  # a send hung past any timeout
        await wait_for(pilot, lambda: len(store.pending_ops()) == 2)
        assert ops(store) == [(Action.CLAIM, DICE, BEN), (Action.RELEASE, DICE, BEN)]


async def test_undo_expires_after_five_seconds() -> None:
    app, store, clock = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "1")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        clock.advance(5.5)
        await wait_for(pilot, lambda: app.query_one("#bar-undo", BarButton).disabled)
        await pilot.press("z")
        await pilot.pause()
        assert ops(store) == [(Action.CLAIM, DICE, ANA)]
        assert any("Nothing to undo" in t for t in notes(app))


async def test_undo_of_a_recall_completes_again_as_the_chef_who_finished_it() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r", "1")
        await wait_for(pilot, lambda: isinstance(app.screen, StaffPicker))
        await pilot.press("1")  # Ana puts it back
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        Server(store).confirm()
        await pilot.press("z")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        assert ops(store) == [(Action.COMPLETE, TART, BEN)]  # Ben had finished it


# --- 5. urgent work first and never hidden -------------------------------------------


async def test_to_do_puts_overdue_first_then_rush_then_high_then_due() -> None:
    board = [
        task("Rush later", priority=Priority.RUSH, due_in=360),
        task("Late normal", due_in=-60),
        task("Very late", due_in=-90),
        task("High soon", priority=Priority.HIGH, due_in=20),
        task("Normal soon", due_in=10),
        task("No due date", due_in=None),
    ]
    app, _, clock = build(board)
    async with app.run_test(size=(160, 45)) as pilot:
        titles = [app._cards[t].vt.task.title for t in app._columns[ColumnId.TODO].task_ids]
        assert titles == [
            "Very late",
            "Late normal",
            "Rush later",
            "High soon",
            "Normal soon",
            "No due date",
        ]
        clock.advance(11 * 60)  # "Normal soon" is now overdue: it jumps to the top group
        await wait_for(
            pilot,
            lambda: (
                [app._cards[t].vt.task.title for t in app._columns[ColumnId.TODO].task_ids][2]
                == "Normal soon"
            ),
        )


async def test_a_new_rush_flashes_its_card_and_the_header() -> None:
    app, store, clock = build(small_board(), bell_on_rush=False)
    rings: list[int] = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        rush = task("Emergency canapés", priority=Priority.RUSH, due_in=15)
        store.apply_server_task(rush)
        await wait_for(pilot, lambda: rush.id in app._cards)
        header = app.query_one(StatusLine)
        assert header.facts.alert == "New RUSH: Emergency canapés"
        assert header.has_class("-rush-alert")
        assert widget(app, rush.id).has_class("-flash")
        assert rings == []  # bell_on_rush = false is honoured
        clock.advance(11)
        await wait_for(pilot, lambda: not header.has_class("-rush-alert"))
        assert not widget(app, rush.id).has_class("-flash")


async def test_alert_command_runs_once_per_new_rush_and_never_blocks(tmp_path: Path) -> None:
    out = tmp_path / "alerts.txt"
    slow = tmp_path / "slow.txt"
    script = (
        "import sys, time, pathlib; p = pathlib.Path(sys.argv[1]);"
        " p.write_text(p.read_text() + 'x' if p.exists() else 'x');"
        " time.sleep(float(sys.argv[2]))"
    )
    app, store, _ = build(
        small_board(), alert_command=(sys.executable, "-c", script, str(out), "0")
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.alert.started == 0  # the first load is not news
        first = task("Emergency canapés", priority=Priority.RUSH, due_in=15)
        store.apply_server_task(first)
        await wait_for(pilot, lambda: out.exists() and out.read_text() == "x", within=10)
        store.apply_server_task(first.evolve(title="Emergency canapés x2", version=2))
        second = task("Fry squid now", priority=Priority.RUSH, due_in=5)
        await wait_for(pilot, lambda: not app.alert.running, within=10)
        store.apply_server_task(second)
        await wait_for(pilot, lambda: out.read_text() == "xx", within=10)
        assert app.alert.started == 2
    # A slow sound never holds the board up: keys work while it plays.
    app, store, _ = build(
        small_board(), alert_command=(sys.executable, "-c", script, str(slow), "30")
    )
    async with app.run_test(size=SIZE) as pilot:
        store.apply_server_task(task("Emergency canapés", priority=Priority.RUSH, due_in=15))
        await wait_for(pilot, lambda: slow.exists(), within=10)
        assert app.alert.running
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
    assert not app.alert.running  # stopped with the board


async def test_a_paged_column_says_how_many_urgent_cards_sit_above() -> None:
    board = [task(f"Late {n}", due_in=-5 - n) for n in range(3)]
    board += [task(f"Later {n}", due_in=100 + n) for n in range(12)]
    app, _, _ = build(board)
    async with app.run_test(size=(80, 24)) as pilot:
        todo = app._columns[ColumnId.TODO]
        assert todo.page_start == 0
        title = str(todo.query_one(".column-title").render())
        assert "urgent above" not in title
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: todo.page_start > 0)
        title = str(todo.query_one(".column-title").render())
        assert "▲ 3 urgent" in title, title


async def test_a_minute_without_input_takes_every_column_back_to_its_first_page() -> None:
    board = [task(f"Task {n:02d}", due_in=10 + n) for n in range(15)]
    app, _, clock = build(board)
    async with app.run_test(size=(80, 24)) as pilot:
        todo = app._columns[ColumnId.TODO]
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: todo.page_start > 0)
        clock.advance(30)
        await pilot.pause()
        assert todo.page_start > 0
        clock.advance(31)
        await wait_for(pilot, lambda: todo.page_start == 0)
        assert app.selected_id is not None and todo.is_visible(app.selected_id)


# --- 6. notes and allergens ----------------------------------------------------------


async def test_notes_and_allergens_show_on_the_card_and_in_full_in_the_details() -> None:
    long_notes = (
        "For the Hughes wedding — no garlic. Keep the shallots separate for the vegan "
        "table and label the tubs with the table numbers before service."
    )
    tart = task("Lemon tart shells", station="Pastry", qty="48", unit="pcs").evolve(
        notes=long_notes, allergens=("gluten", "eggs", "milk")
    )
    app, _, _ = build([tart, *small_board()[:2]])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: widget(app, tart.id).content_size.width > 0)
        card = widget(app, tart.id)
        text = card.render().plain
        assert "⚠ GLUTEN EGGS MILK" in text
        assert "For the Hughes wedding" in text
        assert card.has_class("-allergens")
        app.select(tart.id)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen))
        detail = " ".join(screen_text(app).split())
        assert "⚠ GLUTEN · EGGS · MILK" in detail
        assert "table numbers before service." in detail


async def test_a_long_title_wraps_to_a_second_line_while_there_is_room() -> None:
    title = "Pipe chocolate choux buns for the wedding"
    app, _, _ = build([task(title, due_in=30)])
    async with app.run_test(size=SIZE) as pilot:
        card = widget(app, uid(f"task/{title}"))
        await wait_for(pilot, lambda: card.content_size.width > 0)
        lines = card.render().plain.split("\n")
        assert lines[0].startswith("Pipe chocolate") and "the wedding" in lines[1]
        assert "…" not in lines[0] + lines[1]


# --- 7. touch alone can do everything -------------------------------------------------


async def test_the_bottom_bar_reaches_every_action_by_touch() -> None:
    app, store, _ = build(small_board(), kiosk=True)
    async with app.run_test(size=(80, 24)) as pilot:
        for button in app.query(BarButton):
            assert button.region.height >= 3, button.name
        await pilot.click("#bar-help")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await pilot.click("#bar-recall")
        await wait_for(pilot, lambda: isinstance(app.screen, RecallScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, RecallScreen))
        await pilot.click("#bar-station")
        await wait_for(pilot, lambda: app.station == "Grill")
        await pilot.click("#bar-release")  # Grill: Ana's card, claimed on another device
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#confirm-yes")
        await wait_for(pilot, lambda: ops(store) == [(Action.RELEASE, ROAST, ANA)])
        assert "kiosk" in app.query_one(StatusLine).render().plain


# --- 10. small screens, big kitchens ------------------------------------------------


async def test_more_than_nine_chefs_are_all_reachable_by_key() -> None:
    names = [f"Chef {chr(65 + n)}" for n in range(12)]
    crew = [Staff(uid(f"staff/{n}"), TENANT, KITCHEN, n, n[-1] * 2, True) for n in names]
    app, store, _ = build(small_board())
    store.replace_board(small_board(), [*STAFF, *crew])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, StaffPicker))
        assert "0 for more" in screen_text(app)
        await pilot.press("0")  # the second page of chefs
        await wait_for(pilot, lambda: "Chef L" in screen_text(app))
        picker = app.screen
        assert isinstance(picker, StaffPicker) and picker.page == 1
        chef_l = next(
            i for i, s in enumerate(picker._on_page(), start=1) if s.display_name == "Chef L"
        )
        await pilot.press(str(chef_l))
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        assert ops(store) == [(Action.CLAIM, DICE, uid("staff/Chef L"))]


async def test_help_scrolls_on_a_small_screen_and_says_so() -> None:
    app, _, _ = build(small_board())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await wait_for(pilot, lambda: "more below" in screen_text(app))
        for _ in range(20):
            await pilot.press("down")
        await wait_for(pilot, lambda: "more above" in screen_text(app))


# --- 11. honest empty states ---------------------------------------------------------


async def test_a_status_before_the_columns_exist_is_not_lost() -> None:
    # The sync layer reported before the board was composed: that used to log NoMatches.
    from caterking_display.domain.sync_status import ConnectionState, SyncStatus

    app, _, _ = build([], synced=False)
    app.set_status(SyncStatus(ConnectionState.OFFLINE))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.status.state is ConnectionState.OFFLINE)
        texts = [str(s.render()) for s in app.query(".column-empty").results()]
        assert all("No board yet" in t for t in texts), texts


# --- 4. a damaged board file ---------------------------------------------------------


def damaged_store(tmp_path: Path) -> BoardStore:
    """A board file with two unsent claims whose header is then overwritten."""
    path = tmp_path / "board.sqlite3"
    clock = FixedClock(T0)
    first = BoardStore(path, clock, "wall-1")
    first.replace_board(small_board(), STAFF)
    first.enqueue(Action.CLAIM, DICE, ANA)
    first.enqueue(Action.CLAIM, BEANS, BEN)
    first.close()
    with path.open("r+b") as f:
        f.write(b"\xab" * 100)
    return BoardStore.open(path, clock, "wall-1")


async def test_a_damaged_board_file_is_reported_until_someone_reads_it(tmp_path: Path) -> None:
    store = damaged_store(tmp_path)
    assert len(store.pending_ops()) == 2
    app = BoardApp(store, FixedClock(T0), SETTINGS, status=LIVE)
    async with app.run_test(size=SIZE) as pilot:
        notice = app.query_one(StoreNotice)
        assert notice.display
        text = str(notice.render())
        assert "Board file was damaged: 2 unsent actions recovered, 0 lost." in text
        assert "They will be sent as usual." in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not notice.display)
    assert store.recovery is None  # read: not shown again after a restart
    store.close()


def test_the_undo_countdown_is_harmless_before_and_after_the_bar_has_buttons() -> None:
    """Seen once in a loaded run: the board's last clock tick, while the app shut down,
    asked for the Undo button after the bar's buttons were gone (NoMatches)."""
    from caterking_display.ui.widgets.action_bar import ActionBar

    bar = ActionBar({})
    bar.set_undo(4)  # no buttons (not composed, or already removed): nothing happens
    bar.set_undo(None)
