"""The board app: columns of task cards, the connection banner, the claim/complete flow.

Everything reaches the screen through two doors:

- the store's listener, which only records changed ids and posts one content-free
  `BoardChanged`; its handler diffs those ids into the columns inside `batch_update()`;
- `set_status()`, which the sync layer calls (on the app's loop) with each `SyncStatus`.

One 1 s timer moves the app's clock; a card is recomputed only when its own next minute
boundary passes, and repainted only when its text changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path, PurePath
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.screen import ModalScreen

from caterking_display.domain.actions import Action, next_action
from caterking_display.domain.board import Notice, NoticeKind, ViewTask
from caterking_display.domain.clock import Clock
from caterking_display.domain.sync_status import ConnectionState, SyncStatus
from caterking_display.domain.task import Priority, Staff, Status
from caterking_display.ui import actions as registry
from caterking_display.ui.card_facts import (
    CardState,
    ColumnId,
    card_facts,
    column_of,
    next_change,
    sort_key,
)
from caterking_display.ui.messages import BoardChanged, NoticeReceived
from caterking_display.ui.ports import LAST_STAFF_META, STAFF_CHANGED, BoardSource
from caterking_display.ui.screens.failed_actions import FailedActionsScreen
from caterking_display.ui.screens.help import HelpScreen
from caterking_display.ui.screens.staff_picker import StaffPicker
from caterking_display.ui.settings import UISettings
from caterking_display.ui.status_text import BannerFacts, banner_facts
from caterking_display.ui.themes import THEMES, theme_name
from caterking_display.ui.widgets.announcement import Announcement
from caterking_display.ui.widgets.column import Column
from caterking_display.ui.widgets.connection_banner import ConnectionBanner
from caterking_display.ui.widgets.key_hints import KeyHints
from caterking_display.ui.widgets.status_line import HeaderFacts, StatusLine
from caterking_display.ui.widgets.task_card import TaskCard

_STYLES = Path(__file__).parent / "styles"
ALL_STATIONS = "All stations"
NOTICE_TIMEOUT = 30.0  # seconds; a refusal toast must be seen from across the room
# A conflict undoes the chef's own action: keep it up until tapped away, or a minute.
CONFLICT_TIMEOUT = 60.0
# The exit chord must be pressed twice this close together: one stray key must not blank
# a kiosk.
EXIT_CONFIRM_SECONDS = 2.0

# Actions that act on the board; disabled while a dialog is open.
_BOARD_ACTIONS = frozenset(
    a.action.split("(")[0] for a in registry.REGISTRY if a.id not in ("quit", "exit_chord")
)


class BoardApp(App[None], inherit_bindings=False):
    """The kitchen board. Construct with a store, a clock and settings; then `run()`."""

    CSS_PATH: ClassVar[list[str | PurePath]] = [
        _STYLES / "board.tcss",
        _STYLES / "high_contrast.tcss",
    ]
    BINDINGS = registry.bindings()  # type: ignore[assignment]
    TITLE = "CaterKing Display"
    AUTO_FOCUS = None  # the board itself takes the keys; nothing on it holds focus

    def __init__(
        self,
        store: BoardSource,
        clock: Clock,
        settings: UISettings,
        *,
        status: SyncStatus | None = None,
        on_action_enqueued: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.clock = clock
        self.settings = settings
        self.on_action_enqueued = on_action_enqueued
        self.tz = settings.tzinfo
        self.now: datetime = clock.now()
        self.status: SyncStatus = status or SyncStatus()
        self.station: str | None = settings.initial_station
        self.selected_id: str | None = None
        self.keymap: dict[str, str] = {**settings.keymap, "exit_chord": settings.exit_chord}

        self.animation_level = "none"  # a Pi has no cycles to spare for easing
        self.use_command_palette = not settings.kiosk
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = theme_name(settings.theme)

        self._due_soon = timedelta(minutes=settings.due_soon_minutes)
        self._done_recent = timedelta(minutes=settings.done_recent_minutes)
        self._stale_after = timedelta(seconds=settings.stale_after_seconds)
        self._columns: dict[ColumnId, Column] = {}
        self._cards: dict[str, CardState] = {}
        self._staff: dict[str, Staff] = {}
        self._rush_seen: set[str] = set()
        self._loaded = False
        self._dirty: set[str] = set()
        self._dirty_all = False
        self._board_changed_posted = False
        self._lost_selection: tuple[ColumnId, int] | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._exit_armed_at: float | None = None  # clock.monotonic() of the first exit press
        # Kept by reference: the tick must reach them even while a dialog is on top.
        self._header = StatusLine(self._header_facts(), id="header")
        self._banner = ConnectionBanner(self._banner_facts(), id="banner")
        self._announcement = Announcement(id="announcement")

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield self._header
        yield self._banner
        yield self._announcement
        with Horizontal(id="board"):
            for column_id in ColumnId:
                column = Column(column_id, self._cards, self._is_selected)
                self._columns[column_id] = column
                yield column
        yield KeyHints(self.keymap, id="hints")

    def on_mount(self) -> None:
        self.set_keymap(self.keymap)
        if self.settings.theme == "high-contrast":
            self.add_class("-high-contrast")
        self._unsubscribe.append(self.store.subscribe(self._on_store_changed))
        self._unsubscribe.append(self.store.notices_subscribe(self._on_notice))
        self._announcement.set_message(self.status.announcement)
        self._dirty_all = True
        self._sync_board()
        self._show_no_board()
        self._loaded = True
        self.set_interval(1.0, self._tick, name="clock")

    def on_unmount(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    # ------------------------------------------------------- outside -> board

    def set_status(self, status: SyncStatus) -> None:
        """Show a new connection state. Call on the app's loop (the sync layer does)."""
        self.status = status
        if not self._columns:
            return
        self._banner.set_facts(self._banner_facts())
        self._header.set_facts(self._header_facts())
        self._announcement.set_message(status.announcement)
        self._show_no_board()

    def _saved_at(self) -> datetime | None:
        """When the board was last confirmed by the server; None if it never was."""
        return self.status.board_saved_at or self.store.view().saved_at

    def _show_no_board(self) -> None:
        no_board = self.status.state is not ConnectionState.LIVE and self._saved_at() is None
        for column in self._columns.values():
            column.set_no_board(no_board)

    def _on_store_changed(self, ids: frozenset[str]) -> None:
        # May run inside store code: record and post once; never touch widgets here.
        self._dirty.update(ids)
        self._request_sync()

    def _request_sync(self) -> None:
        if not self._board_changed_posted:
            self._board_changed_posted = True
            self.post_message(BoardChanged())

    def _on_notice(self, notice: Notice) -> None:
        self.post_message(NoticeReceived(notice))

    def on_board_changed(self, _message: BoardChanged) -> None:
        self._board_changed_posted = False
        self._sync_board()
        self._show_no_board()

    def on_notice_received(self, message: NoticeReceived) -> None:
        notice = message.notice
        if notice.kind is NoticeKind.CONFLICT:
            self.notify(
                notice.message,
                title="Not applied",
                severity="warning",
                timeout=CONFLICT_TIMEOUT,
                markup=False,
            )
        elif notice.kind is NoticeKind.REJECTED:
            key = registry.keys_for("failed", self.keymap).split(", ")[0]
            self.notify(
                f"{notice.message}\nPress {key} for the list.",
                title="Refused",
                severity="error",
                timeout=NOTICE_TIMEOUT,
                markup=False,
            )
        else:
            self.notify(notice.message, timeout=NOTICE_TIMEOUT / 3, markup=False)

    # ------------------------------------------------------------- the diff

    def _sync_board(self) -> None:
        """Bring the columns in line with the store for the ids that changed."""
        if not self._columns:
            return
        ids, self._dirty = self._dirty, set()
        full, self._dirty_all = self._dirty_all, False
        if STAFF_CHANGED in ids:
            ids.discard(STAFF_CHANGED)
            full = True
        with self.batch_update():
            if full:
                view = self.store.view()
                self._staff = dict(view.staff)
                for task_id in set(view.tasks) | set(self._cards):
                    self._place(task_id, view.tasks.get(task_id))
            else:
                for task_id in ids:
                    self._place(task_id, self.store.get(task_id))
            self._fix_selection()

    def _passes_filter(self, vt: ViewTask) -> bool:
        # Case-insensitive: a station typed as "grill" in the config must not empty the board.
        return self.station is None or vt.task.station.casefold() == self.station.casefold()

    def _station_label(self) -> str:
        if self.station is None:
            return ALL_STATIONS
        tasks = self.store.view().tasks.values()
        want = self.station.casefold()
        if tasks and not any(vt.task.station.casefold() == want for vt in tasks):
            return f"{self.station} (no tasks at this station; press s)"
        return self.station

    def _place(self, task_id: str, vt: ViewTask | None) -> None:
        column_id = None
        if vt is not None and self._passes_filter(vt):
            column_id = column_of(vt, self.now, self._done_recent)
        state = self._cards.get(task_id)
        if column_id is None or vt is None:
            if state is not None:
                self._drop(state)
            self._rush_seen.discard(task_id)
            return
        self._maybe_ring(vt)
        facts = card_facts(vt, self._staff, self.now, due_soon=self._due_soon, tz=self.tz)
        key = sort_key(vt, column_id)
        changes_at = next_change(vt, self.now)
        if state is not None and state.column is not column_id:
            self._drop(state, keep_selection=True)
            state = None
        if state is None:
            state = CardState(vt, facts, column_id, key, changes_at)
            self._cards[task_id] = state
            self._columns[column_id].add_task(state)
            return
        state.vt = vt
        state.next_change_at = changes_at
        column = self._columns[column_id]
        if state.key != key:
            state.facts = facts
            column.reorder_task(state, key)
        elif facts != state.facts:
            state.facts = facts
            column.update_task(state)

    def _drop(self, state: CardState, *, keep_selection: bool = False) -> None:
        column = self._columns[state.column]
        if state.task_id == self.selected_id and not keep_selection:
            self._lost_selection = (state.column, column.index_of(state))
        column.remove_task(state)
        del self._cards[state.task_id]

    def _maybe_ring(self, vt: ViewTask) -> None:
        """Ring the terminal bell when a rush task appears (not for the first load)."""
        t = vt.task
        is_rush = t.priority is Priority.RUSH and t.status in (Status.PENDING, Status.CLAIMED)
        if not is_rush:
            self._rush_seen.discard(t.id)
            return
        if t.id not in self._rush_seen:
            self._rush_seen.add(t.id)
            if self._loaded and t.status is Status.PENDING:
                self.bell()

    # ----------------------------------------------------------------- time

    def _tick(self) -> None:
        now = self.clock.now()
        went_back = now < self.now
        self.now = now
        self._header.set_facts(self._header_facts())
        self._banner.set_facts(self._banner_facts())
        moved: list[str] = []
        for state in self._cards.values():
            if not went_back and now < state.next_change_at:
                continue
            column_id = column_of(state.vt, now, self._done_recent)
            if column_id is not state.column:
                moved.append(state.task_id)
                continue
            state.next_change_at = next_change(state.vt, now)
            facts = card_facts(state.vt, self._staff, now, due_soon=self._due_soon, tz=self.tz)
            if facts != state.facts:
                state.facts = facts
                self._columns[state.column].update_task(state)
        if moved:
            self._dirty.update(moved)
            self._sync_board()

    def _header_facts(self) -> HeaderFacts:
        return HeaderFacts(
            kitchen=self.status.extra.get("kitchen_name") or self.settings.kitchen_name,
            station=self._station_label(),
            # Presence is only known over a live link; a stale count would mislead.
            devices_online=(
                self.status.devices_online if self.status.state is ConnectionState.LIVE else None
            ),
            clock=f"{self.now.astimezone(self.tz):%H:%M}",
            kiosk=self.settings.kiosk,
        )

    def _banner_facts(self) -> BannerFacts:
        status = self.status
        saved = self._saved_at()  # the sync layer may not have reported it yet
        if saved != status.board_saved_at:
            status = replace(status, board_saved_at=saved)
        return banner_facts(status, self.now, self.tz, self._stale_after)

    # ------------------------------------------------------------ selection

    def _is_selected(self, task_id: str) -> bool:
        return task_id == self.selected_id

    @property
    def selected_card(self) -> CardState | None:
        return self._cards.get(self.selected_id) if self.selected_id else None

    def card_widget(self, task_id: str) -> TaskCard | None:
        """The card widget showing a task, if the task is on a visible page."""
        state = self._cards.get(task_id)
        return self._columns[state.column].slot_for(task_id) if state else None

    def select(self, task_id: str | None) -> None:
        """Select a card by task id (the selection survives the card changing column)."""
        old = self.card_widget(self.selected_id) if self.selected_id else None
        if old is not None:
            old.remove_class("-selected")
        self.selected_id = task_id
        self._lost_selection = None
        state = self.selected_card
        if state is not None:
            self._columns[state.column].show(state)
            card = self.card_widget(state.task_id)
            if card is not None:
                card.add_class("-selected")

    def _fix_selection(self) -> None:
        if self.selected_id is not None and self.selected_id in self._cards:
            return
        target: str | None = None
        if self._lost_selection is not None:
            column_id, index = self._lost_selection
            ids = self._columns[column_id].task_ids
            if ids:
                target = ids[min(index, len(ids) - 1)]
        if target is None:
            for column in self._columns.values():
                if len(column):
                    target = column.task_ids[0]
                    break
        if target is not None or self.selected_id is not None:
            self.select(target)

    def action_move(self, direction: str) -> None:
        state = self.selected_card
        if state is None:
            self._fix_selection()
            return
        column = self._columns[state.column]
        index = column.index_of(state)
        if direction in ("up", "down"):
            step = -1 if direction == "up" else 1
            new = min(max(index + step, 0), len(column) - 1)
            self.select(column.task_ids[new])
            return
        # Across columns keep the row on screen, not the position in the whole list.
        row = index - column.page_start
        order = list(ColumnId)
        pos = order.index(state.column)
        step = -1 if direction == "left" else 1
        pos += step
        while 0 <= pos < len(order):
            other = self._columns[order[pos]]
            if len(other):
                target = min(other.page_start + max(row, 0), len(other) - 1)
                self.select(other.task_ids[target])
                return
            pos += step

    def _page(self, column: Column, direction: int) -> None:
        column.page(direction)
        state = self.selected_card
        if state is None or state.column is column.column_id:
            first = column.first_visible()
            if first is not None:
                self.select(first)

    def action_page(self, direction: int) -> None:
        state = self.selected_card
        if state is not None:
            self._page(self._columns[state.column], direction)

    def on_column_paged(self, message: Column.Paged) -> None:
        self._page(message.column, message.direction)

    def on_task_card_tapped(self, message: TaskCard.Tapped) -> None:
        task_id = message.card.task_id
        if task_id is None:
            return
        if message.on_button:
            # The card's action button: select it (so the selection follows, as for Enter)
            # and run its next step in one tap.
            self.select(task_id)
            self.action_next_step()
        elif task_id == self.selected_id:
            self.action_next_step()
        else:
            self.select(task_id)

    # -------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "quit_board":
            return not self.settings.kiosk
        if action in _BOARD_ACTIONS and isinstance(self.screen, ModalScreen):
            return False
        return True

    def action_quit_board(self) -> None:
        self.exit()

    def action_exit_board(self) -> None:
        """Leave on the second press of the exit chord within EXIT_CONFIRM_SECONDS."""
        now = self.clock.monotonic()
        armed, self._exit_armed_at = self._exit_armed_at, now
        if armed is not None and 0 <= now - armed <= EXIT_CONFIRM_SECONDS:
            self.exit()
            return
        key = registry.keys_for("exit_chord", self.keymap).split(", ")[0]
        self.notify(
            f"Press {key} again to leave the board",
            timeout=EXIT_CONFIRM_SECONDS,
            markup=False,
        )

    def _selected_task(self) -> ViewTask | None:
        if self.selected_id is None:
            return None
        return self.store.get(self.selected_id)

    def action_next_step(self) -> None:
        vt = self._selected_task()
        if vt is None:
            return
        step = next_action(vt.task)
        if step is Action.CLAIM:
            self.action_claim()
        elif step is Action.COMPLETE:
            self.action_done()
        elif vt.task.status is Status.DONE:
            key = registry.keys_for("recall", self.keymap).split(", ")[0]
            self.notify(f"Already done. Press {key} to recall it.", timeout=5)

    def action_claim(self) -> None:
        vt = self._selected_task()
        if vt is None:
            return
        t = vt.task
        if t.status is not Status.PENDING:
            who = self._staff_name(t.claimed_by) if t.status is Status.CLAIMED else ""
            self.notify(
                f"Already claimed by {who}." if who else "Only a waiting task can be claimed.",
                timeout=5,
                markup=False,
            )
            return
        self._ask_and_enqueue(Action.CLAIM, vt, f"Who is claiming “{t.title}”?")

    def action_done(self) -> None:
        vt = self._selected_task()
        if vt is None:
            return
        t = vt.task
        if t.status is Status.CLAIMED and t.claimed_by is not None:
            # Only the chef holding it can finish it (DESIGN.md §3): no need to ask.
            self._enqueue(Action.COMPLETE, t.id, t.claimed_by, remember=False)
        elif t.status is Status.PENDING:
            self._ask_and_enqueue(Action.COMPLETE, vt, f"Who finished “{t.title}”?")
        else:
            self.notify("That task is already done.", timeout=5)

    def action_release(self) -> None:
        vt = self._selected_task()
        if vt is None:
            return
        t = vt.task
        if t.status is not Status.CLAIMED or t.claimed_by is None:
            self.notify("Only a claimed task can be released.", timeout=5)
            return
        self._enqueue(Action.RELEASE, t.id, t.claimed_by, remember=False)

    def action_recall(self) -> None:
        """Reopen the selected done card, or else the most recently done one."""
        card = self.selected_card
        if card is None or card.column is not ColumnId.DONE:
            done = self._columns[ColumnId.DONE].task_ids
            card = self._cards[done[0]] if done else None
        if card is None:
            self.notify("Nothing done recently to recall.", timeout=5)
            return
        t = card.vt.task
        staff_id = (
            t.completed_by
            or t.claimed_by
            or self.store.get_meta(LAST_STAFF_META)
            or self.settings.default_staff_id
        )
        if staff_id is None:
            self._ask_and_enqueue(Action.REOPEN, card.vt, f"Who is recalling “{t.title}”?")
            return
        self._enqueue(Action.REOPEN, t.id, staff_id, remember=False)

    def _ask_and_enqueue(self, action: Action, vt: ViewTask, question: str) -> None:
        task_id = vt.task.id
        last = self.store.get_meta(LAST_STAFF_META) or self.settings.default_staff_id
        if self.settings.skip_picker:
            staff_id = self.settings.default_staff_id or last
            if staff_id is not None:
                self._enqueue(action, task_id, staff_id)
                return
        active = sorted(
            (s for s in self._staff.values() if s.active), key=lambda s: s.display_name.lower()
        )
        if not active:
            self.notify(
                "No staff list yet: wait for the board to sync.", severity="warning", timeout=10
            )
            return

        def chosen(staff_id: str | None) -> None:
            if staff_id is not None:
                self._enqueue(action, task_id, staff_id)

        self.push_screen(StaffPicker(active, last, question), callback=chosen)

    def _enqueue(
        self, action: Action, task_id: str, staff_id: str, *, remember: bool = True
    ) -> None:
        try:
            self.store.enqueue(action, task_id, staff_id)
        except Exception as exc:  # the store refused to even record it: tell the chef
            self.log.error("enqueue failed", exc)
            self.notify(
                f"Could not save that action: {exc}",
                severity="error",
                timeout=NOTICE_TIMEOUT,
                markup=False,
            )
            return
        if remember:
            self.store.set_meta(LAST_STAFF_META, staff_id)
        self.selected_id = task_id
        # Show the pending mark now rather than on the next message round.
        self._dirty.add(task_id)
        self._sync_board()
        self.select(task_id)
        if self.on_action_enqueued is not None:
            self.on_action_enqueued()

    def action_cycle_station(self) -> None:
        stations = list(self.settings.stations) or sorted(
            {vt.task.station for vt in self.store.view().tasks.values() if vt.task.station}
        )
        cycle: list[str | None] = [None, *stations]
        try:
            pos = cycle.index(self.station)
        except ValueError:
            pos = 0
        self.station = cycle[(pos + 1) % len(cycle)]
        self._header.set_facts(self._header_facts())
        self._dirty_all = True
        self._sync_board()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.keymap, kiosk=self.settings.kiosk))

    def action_failed_actions(self) -> None:
        self.push_screen(
            FailedActionsScreen(self.store.failed_actions(), self._staff_name, self.tz)
        )

    def _staff_name(self, staff_id: str | None) -> str:
        if staff_id is None:
            return ""
        s = self._staff.get(staff_id)
        return s.display_name if s else "someone"
