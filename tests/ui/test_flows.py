"""Key and tap flows driven through Pilot against a real in-memory BoardStore."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from textual.widgets import Static

from caterking_display.domain.actions import Action
from caterking_display.domain.sync_status import ConnectionState, ErrorKind, SyncStatus
from caterking_display.domain.task import Priority, Status
from caterking_display.ui.app import BoardApp
from caterking_display.ui.card_facts import ColumnId
from caterking_display.ui.ports import LAST_STAFF_META
from caterking_display.ui.screens.confirm import ConfirmScreen
from caterking_display.ui.screens.failed_actions import FailedActionsScreen
from caterking_display.ui.screens.help import HelpScreen
from caterking_display.ui.screens.recall import RecallScreen
from caterking_display.ui.screens.staff_picker import StaffPicker
from caterking_display.ui.screens.task_detail import TaskDetailScreen
from caterking_display.ui.widgets.column import ColumnNote
from caterking_display.ui.widgets.connection_banner import ConnectionBanner
from caterking_display.ui.widgets.status_line import StatusLine
from caterking_display.ui.widgets.task_card import TaskCard
from tests.ui.conftest import LIVE, Server, build, ops, screen_text, wait_for, widget
from tests.ui.data import ANA, BEN, CHLOE, DEV, STAFF, T0, small_board, task, uid

SIZE = (100, 30)
DICE = uid("task/Dice onions")
ROAST = uid("task/Roast chicken thighs")
TART = uid("task/Lemon tart shells")


def picker_open(app: BoardApp) -> bool:
    return isinstance(app.screen, StaffPicker)


async def test_enter_claims_with_picker_and_shows_pending_at_once() -> None:
    kicks: list[int] = []
    app, store, _ = build(small_board(), on_enqueued=lambda: kicks.append(1))
    async with app.run_test(size=SIZE) as pilot:
        assert app.selected_id == DICE  # first card of To do: earliest due
        await pilot.press("enter")
        await wait_for(pilot, lambda: picker_open(app))
        await pilot.press("2")
        await wait_for(pilot, lambda: not picker_open(app))
        assert ops(store) == [(Action.CLAIM, DICE, BEN)]
        assert app._cards[DICE].column is ColumnId.DOING
        card = widget(app, DICE)
        assert card.has_class("-syncing") and "syncing" in card.render().plain
        assert store.get_meta(LAST_STAFF_META) == BEN
        assert kicks == [1]
        Server(store).confirm()
        await wait_for(pilot, lambda: not widget(app, DICE).has_class("-syncing"))
        assert app._cards[DICE].facts.who == "Ben Okafor"


async def test_enter_enter_claims_then_completes_the_same_task() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: picker_open(app))
        await pilot.press("enter")  # the preselected (first) chef
        await wait_for(pilot, lambda: not picker_open(app))
        assert app.selected_id == DICE
        await pilot.press("enter")  # claimed: completes as the holder, no picker
        await wait_for(pilot, lambda: app._cards[DICE].column is ColumnId.DONE)
        assert ops(store) == [(Action.CLAIM, DICE, ANA), (Action.COMPLETE, DICE, ANA)]
        assert app.selected_id == DICE
        assert widget(app, DICE).has_class("-selected")


async def test_picker_preselects_the_last_chef() -> None:
    app, store, _ = build(small_board())
    store.set_meta(LAST_STAFF_META, CHLOE)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: picker_open(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        assert ops(store) == [(Action.CLAIM, DICE, CHLOE)]


async def test_done_on_a_pending_card_asks_who() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await wait_for(pilot, lambda: picker_open(app))
        await pilot.press("4")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        assert ops(store) == [(Action.COMPLETE, DICE, DEV)]
        assert app._cards[DICE].column is ColumnId.DONE


async def test_picker_cancel_changes_nothing() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: picker_open(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not picker_open(app))
        await pilot.press("space")
        await wait_for(pilot, lambda: picker_open(app))
        await pilot.click("#picker-cancel")
        await wait_for(pilot, lambda: not picker_open(app))
        assert store.pending_ops() == []
        assert app._cards[DICE].column is ColumnId.TODO


async def test_skip_picker_uses_the_default_chef() -> None:
    app, store, _ = build(small_board(), skip_picker=True, default_staff_id=DEV)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        assert not picker_open(app)
        assert ops(store) == [(Action.CLAIM, DICE, DEV)]


async def test_release_of_a_card_claimed_on_this_board_is_one_step() -> None:
    mine = task("Sear scallops", station="Fish", status=Status.CLAIMED, claimed_by=BEN)
    mine = mine.evolve(claimed_device="wall-1")  # this board
    app, store, _ = build([*small_board(), mine])
    async with app.run_test(size=SIZE) as pilot:
        app.select(mine.id)
        await pilot.press("u")
        await wait_for(pilot, lambda: app._cards[mine.id].column is ColumnId.TODO)
        assert ops(store) == [(Action.RELEASE, mine.id, BEN)]
        assert app.selected_id == mine.id


async def test_release_of_a_card_claimed_on_another_device_asks_first() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")  # to In progress: Ana's task, claimed on wall-2
        assert app.selected_id == ROAST
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Release Ana Souza's task?" in screen_text(app)
        await pilot.press("enter")  # the safe answer has the focus
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert store.pending_ops() == []
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: app._cards[ROAST].column is ColumnId.TODO)
        assert ops(store) == [(Action.RELEASE, ROAST, ANA)]


async def test_recall_is_a_list_and_asks_who_puts_it_back() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RecallScreen))
        listing = screen_text(app)
        assert "Lemon tart shells" in listing and "done by Ben Okafor at 10:56" in listing
        assert store.pending_ops() == []  # nothing reopened without a choice
        await pilot.press("1")
        await wait_for(pilot, lambda: picker_open(app))
        assert "Who is putting “Lemon tart shells” back" in screen_text(app)
        await pilot.press("3")
        await wait_for(pilot, lambda: app._cards[TART].column is ColumnId.TODO)
        assert ops(store) == [(Action.REOPEN, TART, CHLOE)]
        assert app.selected_id == TART


async def test_recall_lists_the_last_20_newest_first_and_every_one_is_reachable() -> None:
    # 25 finished tasks, one a minute: the list holds the 20 most recent, the 1st is the
    # newest; the 20th (beyond the 1–9 keys) is reached with the arrows and Enter.
    finished = [
        task(f"Finished {n:02d}", status=Status.DONE, claimed_by=BEN, completed_ago=n)
        for n in range(1, 26)
    ]
    app, store, _ = build(finished)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RecallScreen))
        screen = app.screen
        assert isinstance(screen, RecallScreen)
        assert [i.title for i in screen.items] == [f"Finished {n:02d}" for n in range(1, 21)]
        await pilot.press(*["down"] * 19, "enter")
        await wait_for(pilot, lambda: picker_open(app))
        chosen = store.get(app.screen.task_id).task.title  # type: ignore[attr-defined, union-attr]
        assert chosen == "Finished 20"
        await pilot.press("2")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        assert ops(store) == [(Action.REOPEN, uid("task/Finished 20"), BEN)]


async def test_arrows_and_hjkl_move_the_selection() -> None:
    app, _, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        blanch = uid("task/Blanch green beans")
        assert app.selected_id == blanch or app.selected_id == DICE
        first = app.selected_id
        await pilot.press("down")
        second = app.selected_id
        assert second != first
        await pilot.press("k")
        assert app.selected_id == first
        await pilot.press("right")
        assert app.selected_id == ROAST
        await pilot.press("l")
        assert app.selected_id == TART
        await pilot.press("h", "left")
        assert app.selected_id == first


async def test_configured_station_matches_whatever_the_case() -> None:
    app, _, _ = build(small_board(), initial_station="grill")
    async with app.run_test(size=SIZE):
        assert set(app._cards) == {ROAST}
        assert app.query_one(StatusLine).facts.station == "grill"


async def test_unknown_station_says_so_instead_of_an_empty_board() -> None:
    app, _, _ = build(small_board(), initial_station="Fryer")
    async with app.run_test(size=SIZE):
        assert app._cards == {}
        assert "no tasks at this station" in app.query_one(StatusLine).facts.station


async def test_station_filter_cycles_and_is_shown() -> None:
    app, _, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        assert len(app._cards) == 4
        header = app.query_one(StatusLine)
        await pilot.press("s")  # stations seen: Grill, Pastry, Veg
        await wait_for(pilot, lambda: app.station == "Grill")
        assert set(app._cards) == {ROAST}
        assert header.facts.station == "Grill"
        assert app.selected_id == ROAST
        await pilot.press("s", "s")
        await wait_for(pilot, lambda: app.station == "Veg")
        assert len(app._cards) == 2
        await pilot.press("s")
        await wait_for(pilot, lambda: app.station is None)
        assert len(app._cards) == 4
        assert header.facts.station == "All stations"


async def test_configured_stations_are_cycled() -> None:
    app, _, _ = build(small_board(), stations=("Pastry",))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        assert app.station == "Pastry" and set(app._cards) == {TART}


async def test_conflict_snaps_back_and_says_who_holds_it_over_the_column() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "1")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        base = store.confirmed(DICE)
        assert base is not None
        winner = base.evolve(
            status=Status.CLAIMED, claimed_by=CHLOE, claimed_at=base.updated_at, version=2
        )
        Server(store).conflict(winner)
        doing = app._columns[ColumnId.DOING]
        await wait_for(pilot, lambda: bool(doing.notes))
        assert doing.notes[0].text == "Dice onions: not applied — Already claimed by Chloe Martin"
        assert app.query_one("#bar-undo").disabled  # nothing to take back
        assert doing.notes[0].until - app.clock.monotonic() == 60  # a minute, or a tap
        card = app._cards[DICE]
        assert not widget(app, DICE).has_class("-syncing")
        assert card.facts.who == "Chloe Martin"
        note = doing.query_one(ColumnNote)
        assert (
            note.region.bottom <= doing.query_one(".pager").region.y
            or not doing.query_one(".pager").display
        )  # never over the page buttons
        await pilot.click(note)
        await wait_for(pilot, lambda: not doing.notes)


async def test_refused_actions_are_listed_one_key_away() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "1")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        Server(store).reject("inactive_staff")
        todo = app._columns[ColumnId.TODO]
        await wait_for(pilot, lambda: bool(todo.notes))
        assert "no longer active" in todo.notes[0].text and "f for the list" in todo.notes[0].text
        assert app._cards[DICE].column is ColumnId.TODO
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FailedActionsScreen))
        listing = screen_text(app)
        assert "Dice onions" in listing
        assert "Ana Souza" in listing
        assert "that staff member is no longer active" in listing or "inactive" in listing
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, FailedActionsScreen))


async def test_a_lost_conflict_stays_in_the_not_applied_list_with_who_won() -> None:
    # A chef who looked away during the toast still finds out (one key away).
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "1")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        base = store.confirmed(DICE)
        assert base is not None
        Server(store).conflict(
            base.evolve(
                status=Status.CLAIMED, claimed_by=CHLOE, claimed_at=base.updated_at, version=2
            )
        )
        await wait_for(pilot, lambda: not store.pending_ops())
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FailedActionsScreen))
        listing = screen_text(app)
        assert "Dice onions" in listing
        assert "Already claimed by Chloe Martin" in listing


async def test_board_keys_are_off_while_a_dialog_is_open() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("c", "r", "s")
        assert store.pending_ops() == [] and app.station is None
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_help_is_generated_from_the_registry_and_keymap() -> None:
    app, _, _ = build(small_board(), keymap={"claim": "x"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        assert not picker_open(app)
        await pilot.press("x")
        await wait_for(pilot, lambda: picker_open(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not picker_open(app))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        assert "Claim the selected task" in text
        assert "x " in text


async def test_kiosk_has_no_quit_but_the_exit_chord_pressed_twice_quits() -> None:
    app, _, clock = build(small_board(), kiosk=True)
    assert app.settings.exit_chord == "ctrl+x"  # the same default as config.py
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+q", "ctrl+c", "ctrl+p")
        await pilot.pause()
        assert app.is_running and not app._exit
        assert app.screen is app.screen_stack[0]  # no command palette
        await pilot.press("ctrl+x")  # a stray press only warns
        await wait_for(pilot, lambda: bool(app._notifications))
        assert [n.message for n in app._notifications] == ["Press Ctrl+X again to leave the board"]
        clock.advance(3)  # too late to count as the second press: warns again
        await pilot.press("ctrl+x")
        await pilot.pause()
        assert not app._exit
        clock.advance(1.5)
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: app._exit)


async def test_configured_exit_chord_is_named_in_the_warning() -> None:
    app, _, _ = build(small_board(), kiosk=True, exit_chord="ctrl+shift+x")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+x")
        await pilot.pause()
        assert not app._notifications
        await pilot.press("ctrl+shift+x")
        await wait_for(pilot, lambda: bool(app._notifications))
        assert "Press Ctrl+Shift+X again" in next(iter(app._notifications)).message
        await pilot.press("ctrl+shift+x")
        await wait_for(pilot, lambda: app._exit)


@pytest.mark.parametrize("key", ["ctrl+q", "ctrl+c"])
async def test_quit_keys_outside_kiosk(key: str) -> None:
    # `make demo` promises that Ctrl+C stops everything it started.
    app, _, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        await wait_for(pilot, lambda: app._exit)


async def test_tap_selects_then_tap_again_opens_the_details() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: widget(app, ROAST).region.width > 0)
        roast = widget(app, ROAST)
        await pilot.click(roast, offset=(2, 1))
        assert app.selected_id == ROAST
        assert store.pending_ops() == []
        await pilot.click(roast, offset=(2, 1))
        await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen))
        assert "Claimed by" in screen_text(app) and "Ana Souza on wall-2" in screen_text(app)
        await pilot.press("enter")  # Close has the focus: a stray Enter only closes it
        await wait_for(pilot, lambda: not isinstance(app.screen, TaskDetailScreen))
        assert store.pending_ops() == []


BEANS = uid("task/Blanch green beans")


def on_button(card: TaskCard) -> tuple[int, int]:
    """A tap point inside the card's action button (its middle row)."""
    start = card.button_x()
    assert start is not None, "card has no action button"
    return (start + 1, 1)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["compact", "labelled"])
async def test_tapping_the_claim_button_selects_and_asks_who(size: tuple[int, int]) -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: widget(app, BEANS).content_size.width > 0)
        assert app.selected_id == DICE
        beans = widget(app, BEANS)
        label = "▶ Claim" if size == (160, 45) else "▶"
        assert beans.render().plain.split("\n")[1].rstrip().endswith(label)
        await pilot.click(beans, offset=on_button(beans))
        await wait_for(pilot, lambda: picker_open(app))
        assert app.selected_id == BEANS
        assert "Blanch green beans" in screen_text(app)
        await pilot.press("1")
        await wait_for(pilot, lambda: not picker_open(app))
        assert ops(store) == [(Action.CLAIM, BEANS, ANA)]
        assert app.selected_id == BEANS  # the selection follows the card into In progress
        assert app._cards[BEANS].column is ColumnId.DOING


async def test_tapping_done_on_a_card_claimed_here_completes_without_asking() -> None:
    mine = task("Sear scallops", station="Fish", status=Status.CLAIMED, claimed_by=BEN)
    mine = mine.evolve(claimed_device="wall-1")  # this board
    app, store, _ = build([*small_board(), mine])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: widget(app, mine.id).content_size.width > 0)
        card = widget(app, mine.id)
        await pilot.click(card, offset=on_button(card))
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        assert not picker_open(app) and not isinstance(app.screen, ConfirmScreen)
        assert ops(store) == [(Action.COMPLETE, mine.id, BEN)]
        assert app.selected_id == mine.id


async def test_tapping_done_on_a_card_claimed_elsewhere_asks_first() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: widget(app, ROAST).content_size.width > 0)
        roast = widget(app, ROAST)
        await pilot.click(roast, offset=on_button(roast))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Mark Ana Souza's task done?" in screen_text(app)
        assert store.pending_ops() == []
        await pilot.click("#confirm-yes")
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        assert ops(store) == [(Action.COMPLETE, ROAST, ANA)]


async def test_tapping_a_card_body_only_selects_and_done_cards_have_no_button() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: widget(app, BEANS).content_size.width > 0)
        beans = widget(app, BEANS)
        start = beans.button_x()
        assert start is not None
        await pilot.click(beans, offset=(start - 1, 1))  # the last text cell
        assert app.selected_id == BEANS
        await pilot.pause()
        assert not picker_open(app) and store.pending_ops() == []
        assert widget(app, TART).button_x() is None  # recall stays a deliberate key


async def test_one_change_updates_one_card_without_rebuilding() -> None:
    app, store, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        before = dict(app._cards)
        facts = {tid: c.facts for tid, c in before.items()}
        base = store.confirmed(DICE)
        assert base is not None
        store.apply_server_task(base.evolve(title="Dice red onions", version=2))
        await wait_for(pilot, lambda: app._cards[DICE].facts.title == "Dice red onions")
        assert all(app._cards[tid] is card for tid, card in before.items())
        assert all(app._cards[t].facts is facts[t] for t in before if t != DICE)


async def test_new_rush_rings_the_bell_but_first_load_does_not() -> None:
    rush = task("Flash-fry squid", station="Fish", priority=Priority.RUSH, due_in=5)
    app, store, _ = build([*small_board(), rush])
    rings: list[int] = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert rings == []
        store.apply_server_task(task("Emergency canapés", priority=Priority.RUSH, due_in=3))
        await wait_for(pilot, lambda: uid("task/Emergency canapés") in app._cards)
        assert rings == [1]
        assert widget(app, uid("task/Emergency canapés")).has_class("-rush")
        # Rush sorts first in To do.
        todo = app._columns[ColumnId.TODO].task_ids
        assert app._cards[todo[0]].vt.task.priority is Priority.RUSH


async def test_the_clock_moves_countdowns_and_ages_out_done_cards() -> None:
    app, _, clock = build(small_board(), done_recent_minutes=10)
    async with app.run_test(size=SIZE) as pilot:
        assert app._cards[DICE].facts.countdown == "in 40m"
        clock.advance(31 * 60)
        await wait_for(pilot, lambda: app._cards[DICE].facts.countdown == "in 9m", within=5)
        assert widget(app, DICE).has_class("-soon")
        assert TART not in app._cards  # done 35 min ago; only the last 10 min show
        clock.advance(10 * 60)
        await wait_for(pilot, lambda: widget(app, DICE).has_class("-late"), within=5)
        assert app._cards[DICE].facts.countdown == "1m late"


async def test_set_status_drives_the_banner() -> None:
    app, _, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        banner = app.query_one(ConnectionBanner)
        assert banner.has_class("-live")
        app.set_status(SyncStatus(ConnectionState.OFFLINE, since=app.now, pending_count=2))
        await pilot.pause()
        assert banner.has_class("-offline")
        assert "Offline" in banner.render().plain
        assert "2 changes waiting to sync" in banner.render().plain
        app.set_status(SyncStatus(ConnectionState.LIVE, announcement="Canapés out at 12:30"))
        await pilot.pause()
        assert "Canapés out at 12:30" in str(app.query_one("#announcement").render())


async def test_sign_in_failed_banner_words_the_servers_code() -> None:
    # The sync layer hands over facts (kind, the server's code); the words are the UI's.
    app, _, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        app.set_status(
            SyncStatus(
                ConnectionState.AUTH_FAILED,
                since=app.now,
                last_error="Invalid login credentials",
                error_kind=ErrorKind.SIGN_IN,
                error_code="invalid_credentials",
            )
        )
        await pilot.pause()
        text = app.query_one(ConnectionBanner).render().plain
        assert text.lower().count("sign-in failed") == 1
        assert "Sign-in failed  tap here or press F2 to fix it" in text
        assert "the device's email or password is wrong" in text
        assert "Invalid login credentials" not in text  # the server's own words: the log
        app.set_status(
            SyncStatus(ConnectionState.AUTH_FAILED, since=app.now, error_kind=ErrorKind.NO_KITCHEN)
        )
        await pilot.pause()
        assert "names no kitchen" in app.query_one(ConnectionBanner).render().plain


async def test_live_line_moves_with_every_server_message() -> None:
    app, _, _ = build(small_board())
    async with app.run_test(size=SIZE) as pilot:
        banner = app.query_one(ConnectionBanner)
        synced = app.now - timedelta(minutes=5)
        heard = app.now - timedelta(seconds=3)
        app.set_status(
            SyncStatus(
                ConnectionState.LIVE, since=synced, last_sync_at=synced, last_message_at=heard
            )
        )
        await pilot.pause()
        assert f"updated {heard:%H:%M:%S}" in banner.render().plain
        app.set_status(replace(app.status, last_sync_at=app.now, last_message_at=heard))
        await pilot.pause()
        assert f"updated {app.now:%H:%M:%S}" in banner.render().plain


def empty_texts(app: BoardApp) -> list[str]:
    return [str(s.render()) for s in app.query(".column-empty").results(Static)]


async def test_a_never_synced_board_says_so_instead_of_looking_quiet() -> None:
    offline = SyncStatus(ConnectionState.OFFLINE, since=T0)
    app, store, _ = build([], synced=False, status=offline)
    async with app.run_test(size=SIZE) as pilot:
        texts = empty_texts(app)
        assert texts[0] == "No board yet — not connected."
        assert not any("Nothing" in t or "Nobody" in t for t in texts)
        assert "no saved board yet" in app.query_one(ConnectionBanner).render().plain
        app.set_status(SyncStatus(ConnectionState.CONNECTING, since=T0))
        await pilot.pause()
        assert empty_texts(app)[0] == "No board yet — not connected."
        store.replace_board([], STAFF)  # the first sync: an empty board is now a quiet kitchen
        app.set_status(LIVE)
        await wait_for(pilot, lambda: empty_texts(app)[0] == "Nothing waiting.")
        assert empty_texts(app)[1] == "Nobody is on a task."
        app.set_status(offline)
        await pilot.pause()
        assert empty_texts(app)[0] == "Nothing waiting."  # a saved (empty) board exists
        assert "board from saved copy at 11:00" in app.query_one(ConnectionBanner).render().plain


async def test_narrow_cards_keep_every_unit_and_the_due_and_done_words() -> None:
    cold = task("Portion terrine", station="Cold", qty="80", unit="portions", due_in=30)
    buns = task("Bake brioche buns", station="Cold", qty="150", unit="pcs", due_in=40)
    grill = task(
        "Roast chicken thighs",
        station="Grill",
        qty="60",
        unit="pcs",
        status=Status.CLAIMED,
        claimed_by=ANA,
        due_in=30,
    )
    app, _, _ = build([cold, buns, grill, *small_board()[3:]])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: widget(app, TART).content_size.width > 0)
        text = {tid: widget(app, tid).render().plain for tid in (cold.id, buns.id, grill.id, TART)}
        assert "80 portions" in text[cold.id].replace("·", " ") or "80portions" in text[cold.id]
        assert "due 11:30" in text[cold.id]
        assert "150 pcs" in text[buns.id] or "150pcs" in text[buns.id]
        assert "60 pcs" in text[grill.id] and "due 11:30" in text[grill.id]
        assert "Ana Souza" in text[grill.id] or "AS" in text[grill.id]
        assert "done 10:56" in text[TART]
        assert "…" not in "".join(t.split("\n")[1] for t in text.values())
        for tid in (cold.id, grill.id):
            assert widget(app, tid).button_width() >= 5  # compact buttons: 5 columns at least
