"""The board app: columns of task cards, the connection banner, the claim/complete flow.

Everything reaches the screen through messages:

- the store's listener only records changed ids and posts one content-free
  `BoardChanged`; its handler diffs those ids into the columns inside `batch_update()`;
- `set_status()` (called by the sync layer) posts `SyncStatusChanged`; its handler
  updates the banner, so a status that arrives before the columns exist waits its turn.

One 1 s timer moves the app's clock; a card is recomputed only when its own next minute
boundary passes, and repainted only when its text changes.

Safety rules a chef relies on (see docs/kitchen-guide.md):

- the selection follows a card only when *this* board acted on it; a change made by
  another device never moves it to another column, and a note says what happened;
- a card whose state another device changed in the last few seconds ignores the action
  keys and taps for that moment, and says why;
- an action in the name of a chef who claimed the task on another device asks first;
- every action can be undone for a few seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path, PurePath
from typing import ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.screen import ModalScreen

from caterking_display.domain.actions import Action, next_action
from caterking_display.domain.board import Notice, NoticeKind, ViewTask
from caterking_display.domain.clock import Clock
from caterking_display.domain.estimates import estimate_task
from caterking_display.domain.setup import SetupDraft
from caterking_display.domain.similarity import group_similar
from caterking_display.domain.sync_status import ConnectionState, SyncStatus
from caterking_display.domain.task import Priority, Staff, Status, Task
from caterking_display.domain.text import printable
from caterking_display.ui import actions as registry
from caterking_display.ui.action_words import WORDS
from caterking_display.ui.alerts import CommandAlert
from caterking_display.ui.all_day import all_day, kind_of
from caterking_display.ui.card_facts import (
    CardFacts,
    CardState,
    ColumnId,
    SortKey,
    card_facts,
    column_of,
    finished_at,
    fmt_quantity,
    next_change,
    sort_key,
)
from caterking_display.ui.change_words import UNKNOWN_CHEF, change_note, shown_state, what_changed
from caterking_display.ui.messages import BoardChanged, NoticeReceived, SyncStatusChanged
from caterking_display.ui.notice_words import conflict_words, rejected_words
from caterking_display.ui.ports import (
    ESTIMATES_CHANGED,
    LAST_STAFF_META,
    STAFF_CHANGED,
    BoardSource,
    SetupPort,
)
from caterking_display.ui.recovery_words import recovery_words
from caterking_display.ui.screens.all_day import AllDayScreen
from caterking_display.ui.screens.confirm import ConfirmScreen
from caterking_display.ui.screens.failed_actions import FailedActionsScreen
from caterking_display.ui.screens.help import HelpScreen
from caterking_display.ui.screens.recall import RecallItem, RecallScreen
from caterking_display.ui.screens.setup import SetupScreen
from caterking_display.ui.screens.staff_picker import StaffPicker
from caterking_display.ui.screens.task_detail import TaskDetailScreen
from caterking_display.ui.settings import UISettings
from caterking_display.ui.status_text import (
    BannerFacts,
    banner_facts,
    sign_in_detail,
)
from caterking_display.ui.themes import THEMES, theme_name
from caterking_display.ui.undo import (
    UNDO_SECONDS,
    UNDO_SETTLE_SECONDS,
    Done,
    Step,
    UndoSlot,
    compensation,
)
from caterking_display.ui.widgets.action_bar import ActionBar
from caterking_display.ui.widgets.announcement import Announcement
from caterking_display.ui.widgets.column import Column
from caterking_display.ui.widgets.connection_banner import ConnectionBanner
from caterking_display.ui.widgets.status_line import HeaderFacts, StatusLine
from caterking_display.ui.widgets.store_notice import StoreNotice
from caterking_display.ui.widgets.task_card import TaskCard

_STYLES = Path(__file__).parent / "styles"
ALL_STATIONS = "All stations"
NOTICE_TIMEOUT = 30.0  # seconds; a refusal must be seen from across the room
# A conflict undoes the chef's own action: keep it up until tapped away, or a minute.
CONFLICT_TIMEOUT = 60.0
INFO_NOTE_SECONDS = 12.0  # "Dice onions — claimed by Sam on Pass display"
# The exit chord must be pressed twice this close together: one stray key must not blank
# a kiosk.
EXIT_CONFIRM_SECONDS = 2.0
RESTART_WITH_NEW_SETTINGS = 75
"""The board's exit code after its settings were changed on the setup screen: `run`
opens it again with them (same store, same waiting actions)."""
GUARD_SECONDS = 3.0  # "it just changed under my finger": action keys wait this long
FLASH_SECONDS = 10.0  # a new rush blinks its card and the header this long
IDLE_RESET_SECONDS = 60.0  # without input, every column goes back to its first page

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
        setup: SetupPort | None = None,
        setup_draft: SetupDraft | None = None,
        sign_in_first: Callable[[SetupDraft], Awaitable[str | None]] | None = None,
    ) -> None:
        super().__init__()
        # A browser tab: nothing of the kitchen until an account signs in; this opens its
        # board (and answers None), or says why it could not.
        self.sign_in_first = sign_in_first
        self.setup = setup
        self.setup_draft = setup_draft or SetupDraft()
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
        # Tasks this board is acting on right now: their moves are the chef's own.
        self._acting_on: set[str] = set()
        # task id -> (monotonic time until which action keys wait, what changed)
        self._guard: dict[str, tuple[float, str]] = {}
        self._flash_until: dict[str, float] = {}
        self._rush_alert: tuple[str, float] | None = None  # header "New RUSH" until
        self._undo: UndoSlot | None = None
        # Waiting task id -> the other waiting tasks of its station with a similar kind.
        self._similar: dict[str, tuple[str, ...]] = {}
        self._group_sig: frozenset[tuple[str, str, str]] = frozenset()
        self._last_input = clock.monotonic()
        self.alert = CommandAlert(settings.alert_command)
        # Kept by reference: the tick must reach them even while a dialog is on top.
        self._header = StatusLine(self._header_facts(), id="header")
        self._banner = ConnectionBanner(self._banner_facts(), id="banner")
        self._announcement = Announcement(id="announcement")
        self._bar = ActionBar(self.keymap, id="action-bar")
        self._store_notice = StoreNotice(id="store-notice")

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield self._header
        yield self._banner
        yield self._announcement
        yield self._store_notice
        with Horizontal(id="board"):
            for column_id in ColumnId:
                column = Column(column_id, self._cards, self._is_selected)
                self._columns[column_id] = column
                yield column
        yield self._bar

    def on_mount(self) -> None:
        self.set_keymap(self.keymap)
        if self.settings.theme == "high-contrast":
            self.add_class("-high-contrast")
        self._unsubscribe.append(self.store.subscribe(self._on_store_changed))
        self._unsubscribe.append(self.store.notices_subscribe(self._on_notice))
        self._apply_status()
        if self.sign_in_first is not None and self.setup is not None:
            self._ask_sign_in()
        recovery = self.store.recovery
        self._store_notice.set_message(recovery_words(recovery) if recovery else None)
        self._dirty_all = True
        self._sync_board()
        self._loaded = True
        self.set_interval(1.0, self._tick, name="clock")

    async def on_unmount(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        await self.alert.aclose()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown):
            self._last_input = self.clock.monotonic()
        await super().on_event(event)

    # ------------------------------------------------------- outside -> board

    def set_status(self, status: SyncStatus) -> None:
        """Show a new connection state (the sync layer calls this on the app's loop)."""
        self.post_message(SyncStatusChanged(status))

    def on_sync_status_changed(self, message: SyncStatusChanged) -> None:
        self.status = message.status
        self._apply_status()

    def _apply_status(self) -> None:
        self._banner.set_facts(self._banner_facts())
        self._header.set_facts(self._header_facts())
        self._announcement.set_message(self.status.announcement)
        self._show_no_board()

    def _saved_at(self) -> datetime | None:
        """When the board last heard from the server; None if it never did."""
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
        """Not applied: shown over the card's column, where the chef is looking."""
        notice = message.notice
        column = self._column_for(notice.task_id)
        now = self.clock.monotonic()
        vt = self.store.get(notice.task_id) if notice.task_id else None
        slot = self._undo
        if slot is not None and any(d.step.task_id == notice.task_id for d in slot.done):
            self._undo = None  # the server did not apply it: there is nothing to take back
            self._update_undo(now)
        action = notice.action or Action.CLAIM
        if notice.kind is NoticeKind.CONFLICT:
            title = f"{vt.task.title}: " if vt else ""
            words = conflict_words(action, notice.winner, notice.staff_id or "", self._staff_name)
            column.add_note(
                f"{title}not applied — {words}",
                "warning",
                now + CONFLICT_TIMEOUT,
                notice.task_id,
            )
        else:
            key = registry.keys_for("failed", self.keymap).split(", ")[0]
            words = rejected_words(action, notice.task_title, notice.reason)
            column.add_note(
                f"{words} · {key} for the list", "warning", now + NOTICE_TIMEOUT, notice.task_id
            )

    def _say(
        self, task_id: str | None, text: str, *, warn: bool = False, seconds: float = 6
    ) -> None:
        """A short answer to what the chef just did, over the task's column (where they
        are looking; never over the page buttons or a card's action button)."""
        level = "warning" if warn else "info"
        self._column_for(task_id).add_note(text, level, self.clock.monotonic() + seconds, task_id)

    def _column_for(self, task_id: str | None) -> Column:
        """The column a task shows in, else the selected one, else To do."""
        for tid in (task_id, self.selected_id):
            state = self._cards.get(tid) if tid else None
            if state is not None:
                return self._columns[state.column]
        return self._columns[ColumnId.TODO]

    # ------------------------------------------------------------- the diff

    def _sync_board(self) -> None:
        """Bring the columns in line with the store for the ids that changed."""
        if not self._columns:
            return
        ids, self._dirty = self._dirty, set()
        full, self._dirty_all = self._dirty_all, False
        for everything in (STAFF_CHANGED, ESTIMATES_CHANGED):
            if everything in ids:
                ids.discard(everything)
                full = True
        with self.batch_update():
            if full:
                view = self.store.view()
                self._staff = dict(view.staff)
                for task_id in set(view.tasks) | set(self._cards):
                    self._place(task_id, view.tasks.get(task_id), remote=self._loaded)
            else:
                for task_id in ids:
                    self._place(task_id, self.store.get(task_id), remote=True)
            self._regroup()
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

    def _place(self, task_id: str, vt: ViewTask | None, *, remote: bool = False) -> None:
        """Put one task where it belongs. ``remote``: the change came from the store (the
        server or this board's own action); otherwise from the clock or the filter."""
        state = self._cards.get(task_id)
        mine = task_id in self._acting_on
        # Another device changed what a chef sees of this card (not a filter, not time).
        theirs = (
            remote
            and not mine
            and state is not None
            and shown_state(state.vt.task) != shown_state(vt.task if vt else None)
        )
        if theirs and state is not None:
            self._note_remote_change(task_id, state, vt)
        column_id = None
        if vt is not None and self._passes_filter(vt):
            column_id = column_of(vt, self.now, self._done_recent)
        if column_id is None or vt is None:
            if state is not None:
                self._drop(state, announce=theirs, after=vt)
            self._rush_seen.discard(task_id)
            return
        self._maybe_alert(vt)
        facts, key, changes_at = self._card(vt, column_id, self.now)
        if state is not None and state.column is not column_id:
            self._drop(state, keep_selection=mine, announce=theirs, after=vt)
            state = None
        if state is None:
            state = CardState(vt, facts, column_id, key, changes_at)
            self._set_flags(state)
            self._cards[task_id] = state
            self._columns[column_id].add_task(state)
            return
        before = state.vt
        state.vt = vt
        state.next_change_at = changes_at
        flags = (state.flash, state.changed)
        self._set_flags(state)
        column = self._columns[column_id]
        if state.key != key:
            state.facts = facts
            column.reorder_task(state, key)
        elif facts != state.facts or flags != (state.flash, state.changed) or before != vt:
            state.facts = facts
            column.update_task(state)

    def _card(
        self, vt: ViewTask, column_id: ColumnId, now: datetime
    ) -> tuple[CardFacts, SortKey, datetime]:
        """What a card says, where it sorts, and when time alone next changes either; with
        the learned estimate for its kind, station and quantity."""
        est = estimate_task(vt.task, self.store.estimate(vt.task.kind, vt.task.station))
        facts = card_facts(vt, self._staff, now, due_soon=self._due_soon, tz=self.tz, est=est)
        similar = len(self._similar.get(vt.task.id, ())) if column_id is ColumnId.TODO else 0
        if similar:
            facts = replace(facts, similar=similar)
        start_by = est.start_by(vt.task) if est is not None else None
        return facts, sort_key(vt, column_id, now, start_by), next_change(vt, now, est)

    def _regroup(self) -> None:
        """Find waiting tasks of one station with similar kinds ("+2 similar"), when the
        waiting work changed; redraw only the cards whose group changed."""
        waiting = [
            s
            for s in self._cards.values()
            if s.column is ColumnId.TODO and s.vt.task.status is Status.PENDING
        ]
        sig = frozenset((s.task_id, kind_of(s.vt.task), s.vt.task.station) for s in waiting)
        if sig == self._group_sig:
            return
        self._group_sig = sig
        by_place: dict[str, dict[str, list[str]]] = {}
        for task_id, kind, station in sorted(sig):
            by_place.setdefault(station.casefold(), {}).setdefault(kind, []).append(task_id)
        groups: dict[str, tuple[str, ...]] = {}
        for kinds in by_place.values():
            for group in group_similar(sorted(kinds)):
                members = [tid for kind in group for tid in kinds[kind]]
                if len(members) > 1:
                    for tid in members:
                        groups[tid] = tuple(m for m in members if m != tid)
        changed = {
            t for t in set(groups) | set(self._similar) if groups.get(t) != self._similar.get(t)
        }
        self._similar = groups
        for task_id in changed:
            state = self._cards.get(task_id)
            if state is not None:
                facts, _, _ = self._card(state.vt, state.column, self.now)
                if facts != state.facts:
                    state.facts = facts
                    self._columns[state.column].update_task(state)

    def _set_flags(self, state: CardState) -> None:
        now = self.clock.monotonic()
        guard = self._guard.get(state.task_id)
        state.changed = guard is not None and now < guard[0]
        until = self._flash_until.get(state.task_id)
        # Blink: on in even seconds, off in odd ones, until the flash ends.
        state.flash = until is not None and now < until and int(until - now) % 2 == 0

    def _note_remote_change(self, task_id: str, state: CardState, vt: ViewTask | None) -> None:
        """Another device changed what a chef sees of this task: guard the action keys for
        a moment, and close a "who?" picker (or question) that was open for it."""
        before = state.vt.task
        what = what_changed(before, vt.task if vt else None, self._staff_name)
        self._guard[task_id] = (self.clock.monotonic() + GUARD_SECONDS, what)
        screen = self.screen
        if isinstance(screen, StaffPicker) and screen.task_id == task_id:
            screen.dismiss(None)
            self._columns[state.column].add_note(
                f"{before.title} — {what}. Nothing was changed by this board.",
                "warning",
                self.clock.monotonic() + CONFLICT_TIMEOUT,
                task_id,
            )

    def _drop(
        self,
        state: CardState,
        *,
        keep_selection: bool = False,
        announce: bool = False,
        after: ViewTask | None = None,
    ) -> None:
        column = self._columns[state.column]
        if state.task_id == self.selected_id and not keep_selection:
            # The selection stays where the chef was looking; it does not follow the card.
            self._lost_selection = (state.column, column.index_of(state))
            self.selected_id = None
            if announce:
                note = change_note(state.vt.task, after.task if after else None, self._staff_name)
                column.add_note(
                    note, "info", self.clock.monotonic() + INFO_NOTE_SECONDS, state.task_id
                )
        column.remove_task(state)
        del self._cards[state.task_id]

    def _maybe_alert(self, vt: ViewTask) -> None:
        """A new rush task (not on the first load): flash, bell, sound command."""
        t = vt.task
        is_rush = t.priority is Priority.RUSH and t.status in (Status.PENDING, Status.CLAIMED)
        if not is_rush:
            self._rush_seen.discard(t.id)
            return
        if t.id in self._rush_seen:
            return
        self._rush_seen.add(t.id)
        if not self._loaded or t.status is not Status.PENDING:
            return
        until = self.clock.monotonic() + FLASH_SECONDS
        self._flash_until[t.id] = until
        self._rush_alert = (t.title, until)
        self._header.set_facts(self._header_facts())
        self._header.add_class("-rush-alert")
        if self.settings.bell_on_rush:
            self.bell()
        self.alert.fire()

    # ----------------------------------------------------------------- time

    def _tick(self) -> None:
        now = self.clock.now()
        mono = self.clock.monotonic()
        went_back = now < self.now
        self.now = now
        if self._rush_alert is not None and mono >= self._rush_alert[1]:
            self._rush_alert = None
            self._header.remove_class("-rush-alert")
        self._header.set_facts(self._header_facts())
        self._banner.set_facts(self._banner_facts())
        self._update_undo(mono)
        # Cards with a guard or a flash are redrawn every tick, once more when it ends.
        flagged = set(self._guard) | set(self._flash_until)
        moved: list[str] = []
        for state in self._cards.values():
            due = went_back or now >= state.next_change_at
            if not due and state.task_id not in flagged:
                continue
            column_id = column_of(state.vt, now, self._done_recent)
            if column_id is not state.column:
                moved.append(state.task_id)
                continue
            facts, key, changes_at = self._card(state.vt, state.column, now)
            if due:
                state.next_change_at = changes_at
            flags = (state.flash, state.changed)
            self._set_flags(state)
            column = self._columns[state.column]
            if key != state.key:
                state.facts = facts
                column.reorder_task(state, key)
            elif facts != state.facts or flags != (state.flash, state.changed):
                state.facts = facts
                column.update_task(state)
        self._guard = {k: v for k, v in self._guard.items() if v[0] > mono}
        self._flash_until = {k: v for k, v in self._flash_until.items() if v > mono}
        for column in self._columns.values():
            column.expire_notes(mono)
        if moved:
            self._dirty.update(moved)
            self._sync_board()
        if mono - self._last_input >= IDLE_RESET_SECONDS:
            self._back_to_first_pages()

    def _back_to_first_pages(self) -> None:
        """Nobody touched the board for a minute: show every column from the top, where
        the most urgent work is."""
        for column in self._columns.values():
            if column.to_first_page():
                state = self.selected_card
                if state is not None and state.column is column.column_id:
                    if not column.is_visible(state.task_id):
                        self.select(column.first_visible())

    def _header_facts(self) -> HeaderFacts:
        return HeaderFacts(
            kitchen=printable(self.status.kitchen_name or self.settings.kitchen_name),
            station=self._station_label(),
            # Presence is only known over a live link; a stale count would mislead.
            devices_online=(
                self.status.devices_online if self.status.state is ConnectionState.LIVE else None
            ),
            clock=f"{self.now.astimezone(self.tz):%H:%M}",
            kiosk=self.settings.kiosk,
            alert=f"New RUSH: {self._rush_alert[0]}" if self._rush_alert else "",
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
            lost = self._lost_selection
            self.select(target)
            if target is None:
                self._lost_selection = lost

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
            self.action_details()  # a second tap on the body: notes, allergens, history
        else:
            self.select(task_id)

    async def on_action_bar_chosen(self, message: ActionBar.Chosen) -> None:
        await self.run_action(registry.BY_ID[message.action_id].action)

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

    def _guarded(self, task_id: str) -> bool:
        """True (and says why) while another device's change to this task is fresh."""
        guard = self._guard.get(task_id)
        if guard is None or self.clock.monotonic() >= guard[0]:
            return False
        vt = self.store.get(task_id)
        title = vt.task.title if vt else "This task"
        self._say(
            task_id,
            f"{title} just changed: {guard[1]}. Look again, then press again.",
            warn=True,
            seconds=GUARD_SECONDS + 2,
        )
        return True

    def action_next_step(self) -> None:
        vt = self._selected_task()
        if vt is None or self._guarded(vt.task.id):
            return
        step = next_action(vt.task)
        if step is Action.CLAIM:
            self.action_claim()
        elif step is Action.COMPLETE:
            self.action_done()
        elif vt.task.status is Status.DONE:
            key = registry.keys_for("recall", self.keymap).split(", ")[0]
            self._say(vt.task.id, f"Already done. To put it back, press {key} (Recall).")

    def action_claim(self) -> None:
        vt = self._selected_task()
        if vt is None or self._guarded(vt.task.id):
            return
        t = vt.task
        if t.status is not Status.PENDING:
            who = self._staff_name(t.claimed_by) if t.status is Status.CLAIMED else ""
            self._say(
                t.id, f"Already claimed by {who}." if who else "Only a waiting task can be claimed."
            )
            return
        self._ask_and_enqueue(Action.CLAIM, vt, f"Who is claiming “{t.title}”?")

    def _elsewhere(self, t: Task) -> bool:
        """Claimed on another device (or by the back office), not on this board."""
        return t.claimed_device != self.store.device_name

    def _holder_words(self, t: Task) -> tuple[str, str]:
        name = self._staff_name(t.claimed_by) or UNKNOWN_CHEF
        where = f" on {t.claimed_device}" if t.claimed_device else ""
        return name, where

    def action_done(self) -> None:
        vt = self._selected_task()
        if vt is None or self._guarded(vt.task.id):
            return
        t = vt.task
        if t.status is Status.CLAIMED and t.claimed_by is not None:
            # Only the chef holding it can finish it, so it is done in their name.
            self._in_holders_name(
                Action.COMPLETE,
                t,
                t.claimed_by,
                question="Mark {name}'s task done?",
                outcome="It will be recorded as done by {name}.",
                yes="Yes, {name} is done",
            )
        elif t.status is Status.PENDING:
            self._ask_and_enqueue(Action.COMPLETE, vt, f"Who finished “{t.title}”?")
        else:
            self._say(t.id, "That task is already done.")

    def action_release(self) -> None:
        vt = self._selected_task()
        if vt is None or self._guarded(vt.task.id):
            return
        t = vt.task
        if t.status is not Status.CLAIMED or t.claimed_by is None:
            self._say(t.id, "Only a claimed task can be released.")
            return
        self._in_holders_name(
            Action.RELEASE,
            t,
            t.claimed_by,
            question="Release {name}'s task?",
            outcome="It goes back to To do for anyone to claim.",
            yes="Yes, release it",
        )

    def _in_holders_name(
        self, action: Action, t: Task, holder: str, *, question: str, outcome: str, yes: str
    ) -> None:
        """An action recorded for the chef holding the task: one step when it was claimed
        on this board (the bump-bar way); claimed elsewhere, ask first. ``{name}`` in the
        words is the holder's name."""
        if not self._elsewhere(t):
            self._enqueue(action, t, holder, remember=False)
            return
        name, where = self._holder_words(t)
        self._confirm_then(
            t,
            question=question.format(name=name),
            detail=f"“{t.title}” was claimed by {name}{where}. {outcome.format(name=name)}",
            yes=yes.format(name=name),
            action=action,
            staff_id=holder,
        )

    def _confirm_then(
        self, t: Task, *, question: str, detail: str, yes: str, action: Action, staff_id: str
    ) -> None:
        seen = shown_state(t)

        def answered(ok: bool | None) -> None:
            if not ok:
                return
            now = self.store.get(t.id)
            if now is None or shown_state(now.task) != seen:
                self._say(t.id, f"{t.title} changed meanwhile: nothing was done.", warn=True)
                return
            self._enqueue(action, now.task, staff_id, remember=False)

        self.push_screen(ConfirmScreen(question, detail, yes), callback=answered)

    def action_recall(self) -> None:
        """Choose a finished task to put back (newest first, with who and when)."""
        done = sorted(
            (vt for vt in self.store.view().tasks.values() if vt.task.status is Status.DONE),
            key=lambda vt: (-finished_at(vt).timestamp(), vt.task.title, vt.task.id),
        )
        items = [
            RecallItem(
                vt.task.id,
                vt.task.title,
                " · ".join(
                    p
                    for p in (
                        fmt_quantity(vt.task.quantity, vt.task.unit),
                        vt.task.station,
                        f"done by {self._staff_name(vt.task.completed_by) or UNKNOWN_CHEF}"
                        f" at {finished_at(vt).astimezone(self.tz):%H:%M}",
                    )
                    if p
                ),
            )
            for vt in done
        ]
        state = self.selected_card
        preselected = state.task_id if state and state.column is ColumnId.DONE else None

        def chosen(task_id: str | None) -> None:
            vt = self.store.get(task_id) if task_id else None
            if vt is None:
                return
            if vt.task.status is not Status.DONE:
                self._say(vt.task.id, f"{vt.task.title} is no longer done.")
                return
            self._ask_and_enqueue(
                Action.REOPEN, vt, f"Who is putting “{vt.task.title}” back in To do?"
            )

        self.push_screen(RecallScreen(items, preselected), callback=chosen)

    def _ask_and_enqueue(
        self, action: Action, vt: ViewTask, question: str, *, also: Sequence[str] = ()
    ) -> None:
        """Ask "who?" (unless this station skips it), then queue ``action`` on the task and
        on the tasks in ``also`` (a batch), for the chosen chef."""
        task_id = vt.task.id
        last = self.store.get_meta(LAST_STAFF_META) or self.settings.default_staff_id
        if self.settings.skip_picker:
            staff_id = self.settings.default_staff_id or last
            if staff_id is not None:
                self._enqueue_all(action, [task_id, *also], staff_id)
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
                self._enqueue_all(action, [task_id, *also], staff_id)

        self.push_screen(StaffPicker(active, last, question, task_id=task_id), callback=chosen)

    def _enqueue_all(self, action: Action, task_ids: Sequence[str], staff_id: str) -> None:
        """Queue one action per task (those still on the board), as one undoable step."""
        befores = [vt.task for vt in (self.store.get(t) for t in task_ids) if vt is not None]
        if befores:
            self._enqueue(action, befores, staff_id)

    def _enqueue(
        self,
        action: Action,
        before: Task | Sequence[Task],
        staff_id: str,
        *,
        remember: bool = True,
    ) -> None:
        befores = [before] if isinstance(before, Task) else list(before)
        op_ids = self._queue([Step(action, b.id, staff_id) for b in befores], follow=befores[0].id)
        if op_ids is None:
            return
        if remember:
            self.store.set_meta(LAST_STAFF_META, staff_id)
        self._undo = UndoSlot(
            tuple(
                Done(Step(action, b.id, staff_id), op_id, b, b.title)
                for b, op_id in zip(befores, op_ids, strict=False)
            ),
            self.clock.monotonic() + UNDO_SECONDS,
        )
        # No message: the card moved under the selection, and the Undo button lit up.
        self._update_undo(self.clock.monotonic())

    def _queue(self, steps: list[Step], *, follow: str | None = None) -> list[str] | None:
        """Queue actions (this board's own: the selection follows the card, or ``follow``
        among several); their op ids, or None if the store could not even record them."""
        op_ids: list[str] = []
        try:
            for step in steps:
                op_ids.append(self.store.enqueue(step.action, step.task_id, step.staff_id).op_id)
        except Exception as exc:  # the store refused to even record it: tell the chef
            self.log.error("enqueue failed", exc)
            self.notify(
                f"Could not save that action: {exc}",
                severity="error",
                timeout=NOTICE_TIMEOUT,
                markup=False,
            )
            if not op_ids:
                return None
        self._follow({s.task_id for s in steps}, select=follow)
        if self.on_action_enqueued is not None:
            self.on_action_enqueued()
        return op_ids

    def _follow(self, task_ids: set[str], *, select: str | None = None) -> None:
        """Show this board's own change at once, with the selection on the card."""
        self._acting_on |= task_ids
        try:
            self._dirty |= task_ids
            self._sync_board()
        finally:
            self._acting_on -= task_ids
        for task_id in task_ids:
            self._guard.pop(task_id, None)
        if select is None and len(task_ids) == 1:
            select = next(iter(task_ids))
        if select is not None:
            self.select(select)

    def _update_undo(self, mono: float) -> None:
        slot = self._undo
        if slot is not None and not slot.live(mono):
            self._undo = slot = None
        self._bar.set_undo(slot.seconds_left(mono) if slot else None)

    def action_undo(self) -> None:
        """Take back the last action of this board, within UNDO_SECONDS."""
        slot, mono = self._undo, self.clock.monotonic()
        if slot is None or not slot.live(mono):
            self._say(self.selected_id, "Nothing to undo: only the last action, within 5 s.")
            return
        self._undo = None
        self._update_undo(mono)
        self._settle_undo(slot, mono + UNDO_SETTLE_SECONDS, started=True)

    def _settle_undo(self, slot: UndoSlot, deadline: float, *, started: bool = False) -> None:
        """Withdraw what never left, compensate what may have reached the server. An
        action whose first send is on its way right now (a flaky network: a connect that
        hangs, then fails) is decided when that send ends, so an offline undo stays a
        withdrawal instead of a claim and a release both sent later."""
        if self.clock.monotonic() < deadline and any(
            self.store.first_send_in_flight(d.op_id) for d in slot.done
        ):
            if started:
                titles = ", ".join(d.title for d in slot.done)
                self._say(slot.done[0].step.task_id, f"Undoing {titles}: waiting for its send…")
            self.set_timer(0.05, lambda: self._settle_undo(slot, deadline))
            return
        not_applied = {f.op.op_id for f in self.store.failed_actions()}
        withdrawn: list[str] = []
        compensations: list[Step] = []
        for done in slot.done:
            if done.op_id in not_applied:
                continue  # the server never applied it: nothing to take back
            if self.store.withdraw([done.op_id]):
                withdrawn.append(done.op_id)
            else:
                compensations += compensation(done)
        titles = ", ".join(d.title for d in slot.done)
        if withdrawn:
            self._follow({d.step.task_id for d in slot.done})
        if compensations:
            self._queue(compensations)
        first = slot.done[0].step.task_id
        if not withdrawn and not compensations:
            self._say(first, f"Nothing to undo: {titles} was not applied.")
            return
        how = "it was never sent" if not compensations else "the server is told"
        self._say(first, f"Undone: the {WORDS[slot.action].noun} of {titles} ({how}).")

    def action_details(self) -> None:
        vt = self._selected_task()
        if vt is None:
            return

        def chosen(step: str | None) -> None:
            if step == "next":
                self.action_next_step()
            elif step == "release":
                self.action_release()
            elif step == "recall":
                self.action_recall()
            elif step == "batch":
                self.action_batch_claim()

        est = estimate_task(vt.task, self.store.estimate(vt.task.kind, vt.task.station))
        self.push_screen(
            TaskDetailScreen(
                vt,
                self._staff,
                self.now,
                self.tz,
                self._staff_name,
                est,
                similar=len(self._similar.get(vt.task.id, ())),
            ),
            callback=chosen,
        )

    def on_store_notice_dismissed(self, _message: StoreNotice.Dismissed) -> None:
        self.action_dismiss()

    def action_dismiss(self) -> None:
        """Esc on the board: close the notes over the columns and a read notice."""
        for column in self._columns.values():
            column.clear_notes()
        if self._store_notice.message is not None:
            self.store.acknowledge_recovery()
            self._store_notice.set_message(None)

    def _ask_sign_in(self, why: str = "") -> None:
        """The sign-in screen of a browser tab; it cannot be closed, only signed in."""
        assert self.setup is not None

        def signed_in(draft: SetupDraft | None) -> None:
            if draft is not None:
                self.run_worker(self._open_board(draft), group="sign-in", exclusive=True)

        self.push_screen(
            SetupScreen(
                self.setup, self.setup_draft, cancellable=False, why=why, account_only=True
            ),
            callback=signed_in,
        )

    async def _open_board(self, draft: SetupDraft) -> None:
        assert self.sign_in_first is not None
        problem = await self.sign_in_first(draft)
        if problem is not None:
            self._ask_sign_in(problem)

    def attach(self, store: BoardSource, *, on_action_enqueued: Callable[[], None]) -> None:
        """Show this board (a browser tab after sign-in): its store and outbox."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self.store = store
        self.on_action_enqueued = on_action_enqueued
        self._unsubscribe.append(store.subscribe(self._on_store_changed))
        self._unsubscribe.append(store.notices_subscribe(self._on_notice))
        self._dirty_all = True
        self._sync_board()
        self._apply_status()

    def on_connection_banner_tapped(self, _message: ConnectionBanner.Tapped) -> None:
        if self.status.state is ConnectionState.AUTH_FAILED:
            self.action_account()

    def action_account(self) -> None:
        """The setup screen, to fix the server or the account. The saved board and the
        actions waiting to be sent stay as they are; the board restarts with the new
        settings. In kiosk mode only while sign-in is failing."""
        failing = self.status.state is ConnectionState.AUTH_FAILED
        if self.setup is None or (self.settings.kiosk and not failing):
            return
        why = f"Sign-in failed: {sign_in_detail(self.status)}" if failing else ""

        def saved(draft: SetupDraft | None) -> None:
            if draft is not None:
                self.exit(return_code=RESTART_WITH_NEW_SETTINGS)

        self.push_screen(
            SetupScreen(self.setup, self.setup_draft, cancellable=True, why=why),
            callback=saved,
        )

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

    def action_all_day(self) -> None:
        """Open quantities by kind across the board (or the filtered station)."""
        tasks = [vt.task for vt in self.store.view().tasks.values() if self._passes_filter(vt)]
        where = self.station or ALL_STATIONS.lower()
        self.push_screen(AllDayScreen(all_day(tasks), where))

    def action_batch_claim(self) -> None:
        """Claim the selected waiting task and its similar ones for one chef: each its own
        action (own op id); a task someone else took meanwhile is reported on its own."""
        vt = self._selected_task()
        if vt is None or self._guarded(vt.task.id):
            return
        if vt.task.status is not Status.PENDING:
            self._say(vt.task.id, "Only a waiting task can be claimed.")
            return
        others = [o for o in (self.store.get(t) for t in self._similar.get(vt.task.id, ())) if o]
        others = [o for o in others if o.task.status is Status.PENDING]
        if not others:
            self._ask_and_enqueue(Action.CLAIM, vt, f"Who is claiming “{vt.task.title}”?")
            return
        n = len(others) + 1
        self._ask_and_enqueue(
            Action.CLAIM,
            vt,
            f"Who is claiming {n} tasks: “{vt.task.title}” and {len(others)} similar?",
            also=[o.task.id for o in others],
        )

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
        return s.display_name if s else UNKNOWN_CHEF
