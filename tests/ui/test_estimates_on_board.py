"""Learned estimates on the board: "≈ 18 min", start-by order, running long, the basis,
all-day counts and batches of similar work."""

from __future__ import annotations

from caterking_display.domain.actions import Action
from caterking_display.domain.task import Priority, Status
from caterking_display.ui.card_facts import ColumnId
from caterking_display.ui.screens.all_day import AllDayScreen
from caterking_display.ui.screens.staff_picker import StaffPicker
from caterking_display.ui.screens.task_detail import TaskDetailScreen
from tests.ui.conftest import Server, build, ops, screen_text, wait_for, widget
from tests.ui.data import ANA, BEN, CHLOE, estimate, task

SIZE = (160, 45)


def todo_titles(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [app._cards[t].vt.task.title for t in app._columns[ColumnId.TODO].task_ids]


async def test_a_card_shows_its_estimate_and_start_by_time() -> None:
    onions = task("Dice onions", qty="10", unit="kg", due_in=60, kind="dice onion")
    est = estimate("dice onion", unit="kg", per_unit=(1.5, 2.5), setup=(4, 6))
    app, _, _ = build([onions], estimates=[est])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: widget(app, onions.id).content_size.width > 0)
        # p50 = 4 + 1.5 × 10 = 19 min; p90 = 6 + 2.5 × 10 = 31 min; due 12:00 → 11:29.
        assert app._cards[onions.id].facts.plan == "≈ 19 min · start by 11:29"
        assert "≈ 19 min · start by 11:29" in widget(app, onions.id).render().plain


async def test_to_do_is_ordered_by_start_by_with_start_now_after_overdue() -> None:
    board = [
        task("Quick garnish", due_in=30, kind="garnish"),  # p90 5 → start by 11:25
        task("Slow stock", due_in=120, kind="stock"),  # p90 150 → start now
        task("Late thing", due_in=-5, kind="other"),  # overdue
        task("Medium braise", due_in=90, kind="braise"),  # p90 80 → start by 11:10
        task("Rush later", due_in=240, priority=Priority.RUSH, kind="rush"),
    ]
    ests = [
        estimate("garnish", p50=3, p90=5),
        estimate("stock", p50=100, p90=150),
        estimate("braise", p50=60, p90=80),
        estimate("rush", p50=10, p90=15),
    ]
    app, _, clock = build(board, estimates=ests)
    async with app.run_test(size=SIZE) as pilot:
        assert todo_titles(app) == [
            "Late thing",
            "Slow stock",
            "Rush later",
            "Medium braise",
            "Quick garnish",
        ]
        assert app._cards[board[1].id].facts.plan == "≈ 1 h 40 · start now"
        clock.advance(11 * 60)  # 11:11: the braise's start-by (11:10) has passed
        await wait_for(pilot, lambda: todo_titles(app)[2] == "Medium braise")
        assert app._cards[board[3].id].facts.plan.endswith("start now")


async def test_a_claim_past_its_p90_says_running_long() -> None:
    chicken = task(
        "Roast chicken thighs",
        station="Grill",
        status=Status.CLAIMED,
        claimed_by=ANA,
        claimed_ago=15,
        due_in=60,
        kind="roast chicken thigh",
    )
    app, _, clock = build([chicken], estimates=[estimate("roast chicken thigh", "Grill", 12, 20)])
    async with app.run_test(size=SIZE) as pilot:
        assert app._cards[chicken.id].facts.plan == "≈ 12 min"
        clock.advance(6 * 60)  # 21 min since the claim: past the p90 of 20
        await wait_for(pilot, lambda: "running long" in app._cards[chicken.id].facts.plan)
        assert "running long · ≈ 12 min" in widget(app, chicken.id).render().plain


async def test_a_changed_estimate_redraws_only_its_cards() -> None:
    onions = task("Dice onions", due_in=60, kind="dice onion")
    carrots = task("Peel carrots", due_in=60, kind="peel carrot")
    app, store, _ = build(
        [onions, carrots], estimates=[estimate("dice onion"), estimate("peel carrot")]
    )
    async with app.run_test(size=SIZE) as pilot:
        before = app._cards[carrots.id].facts
        store.apply_server_estimate(estimate("dice onion", p50=25, p90=40))
        await wait_for(pilot, lambda: app._cards[onions.id].facts.plan.startswith("≈ 25 min"))
        assert app._cards[carrots.id].facts is before  # untouched


async def test_the_details_say_what_the_estimate_is_based_on() -> None:
    shallots = task("Dice shallots", due_in=60, kind="dice shallot")
    leeks = task("Slice leeks", due_in=60, kind="slice leek")
    new = task("Brunoise celeriac", due_in=60, kind="brunoise celeriac")
    ests = [
        estimate("dice shallot", basis="similar", similar_to=("dice onion",), samples=12),
        estimate("slice leek", basis="station", samples=40),
        estimate("brunoise celeriac", p50=0, p90=0, basis="none", samples=0),
    ]
    app, _, _ = build([shallots, leeks, new], estimates=ests)
    async with app.run_test(size=SIZE) as pilot:
        for t, words in (
            (shallots, "like dice onion"),
            (leeks, "station average"),
            (new, "no history yet"),
        ):
            app.select(t.id)
            await pilot.press("i")
            await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen))
            assert words in screen_text(app), t.title
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, TaskDetailScreen))
        assert app._cards[new.id].facts.plan == ""  # no basis: no figure is made up


async def test_all_day_counts_merge_similar_kinds_and_follow_the_filter() -> None:
    board = [
        task("Dice onions", qty="10", kind="dice onion"),
        task("Onions, diced", qty="8", kind="dice onion", status=Status.CLAIMED, claimed_by=BEN),
        task("Dice red onions", qty="4", kind="dice onion red"),
        task("Peel carrots", qty="6", kind="peel carrot"),
        task("Glaze pork", station="Grill", qty="3", kind="glaze pork"),
        task("Done onions", qty="50", kind="dice onion", status=Status.DONE, claimed_by=BEN),
    ]
    app, _, _ = build(board)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AllDayScreen))
        lines = app.screen.lines  # type: ignore[attr-defined]
        assert [(x.label, x.amounts, x.tasks) for x in lines] == [
            ("Dice onions", "22 kg", 3),
            ("Glaze pork", "3 kg", 1),
            ("Peel carrots", "6 kg", 1),
        ]
        assert "Dice onions" in screen_text(app) and "22 kg" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, AllDayScreen))
        await pilot.press("s")  # Grill
        await wait_for(pilot, lambda: app.station == "Grill")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AllDayScreen))
        lines = app.screen.lines  # type: ignore[attr-defined]
        assert [(x.label, x.tasks) for x in lines] == [("Glaze pork", 1)]


async def test_similar_waiting_work_is_marked_and_claimed_together() -> None:
    board = [
        task("Dice onions", qty="10", due_in=40, kind="dice onion"),
        task("Onions, diced", qty="8", due_in=50, kind="dice onion"),
        task("Dice red onions", qty="4", due_in=60, kind="dice onion red"),
        task("Peel carrots", qty="6", due_in=45, kind="peel carrot"),
        task("Dice onions", station="Grill", qty="2", due_in=45, kind="dice onion").evolve(
            id="00000000-0000-4000-8000-00000000dddd"
        ),
    ]
    app, store, _ = build(board)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: widget(app, board[0].id).content_size.width > 0)
        assert app._cards[board[0].id].facts.similar == 2  # same station only
        assert app._cards[board[3].id].facts.similar == 0
        assert "+2 similar" in widget(app, board[0].id).render().plain
        app.select(board[0].id)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, StaffPicker))
        assert "3 tasks" in screen_text(app)
        await pilot.press("3")  # Chloe
        await wait_for(pilot, lambda: len(store.pending_ops()) == 3)
        assert {(a, t, s) for a, t, s in ops(store)} == {
            (Action.CLAIM, board[0].id, CHLOE),
            (Action.CLAIM, board[1].id, CHLOE),
            (Action.CLAIM, board[2].id, CHLOE),
        }
        assert len({op.op_id for op in store.pending_ops()}) == 3  # one op id each
        assert app.selected_id == board[0].id
        # Someone else took one meanwhile: that one alone is reported, over its column.
        server = Server(store)
        server.confirm()
        base = store.confirmed(board[1].id)
        assert base is not None
        server.conflict(
            base.evolve(
                status=Status.CLAIMED, claimed_by=BEN, claimed_at=base.updated_at, version=2
            )
        )
        server.confirm()
        doing = app._columns[ColumnId.DOING]
        await wait_for(pilot, lambda: bool(doing.notes))
        assert [n.text for n in doing.notes] == [
            "Onions, diced: not applied — Already claimed by Ben Okafor"
        ]


async def test_undo_takes_back_a_whole_batch() -> None:
    board = [
        task("Dice onions", due_in=40, kind="dice onion"),
        task("Onions, diced", due_in=50, kind="dice onion"),
    ]
    app, store, _ = build(board)
    async with app.run_test(size=SIZE) as pilot:
        app.select(board[0].id)
        await pilot.press("b", "1")
        await wait_for(pilot, lambda: len(store.pending_ops()) == 2)
        await pilot.press("z")
        await wait_for(pilot, lambda: not store.pending_ops())
        assert all(app._cards[t.id].column is ColumnId.TODO for t in board)


async def test_a_batch_can_be_claimed_by_touch_from_the_details() -> None:
    board = [
        task("Dice onions", due_in=40, kind="dice onion"),
        task("Onions, diced", due_in=50, kind="dice onion"),
    ]
    app, store, _ = build(board)
    async with app.run_test(size=SIZE) as pilot:
        card = widget(app, board[0].id)
        await wait_for(pilot, lambda: card.content_size.width > 0)
        await pilot.click(card, offset=(2, 1))
        await pilot.click(card, offset=(2, 1))
        await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen))
        await pilot.click("#detail-batch")
        await wait_for(pilot, lambda: isinstance(app.screen, StaffPicker))
        await pilot.click("#pick-2")
        await wait_for(pilot, lambda: len(store.pending_ops()) == 2)
        assert {t for _, t, _ in ops(store)} == {board[0].id, board[1].id}
