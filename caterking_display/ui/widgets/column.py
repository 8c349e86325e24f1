"""A board column: a title with a count, one page of cards, and page buttons on overflow.

The column holds the order of *all* its tasks as a sorted list of (sort key, id) — plain
data — but mounts only as many card widgets ("slots") as fit on screen, and binds the
visible page of tasks to them. A change on a board of 1,000 tasks therefore touches at most
one page of widgets: cost does not grow with the board.

Cards have different heights (a wrapped title, notes, allergens): the column knows each
card's height from the same pure layout the card draws with, keeps the total up to date
incrementally, and fills each page with as many whole cards as fit.

A note about this column (a lost claim, a card another device moved away) is drawn over
the top of its cards on a layer of its own, so it never pushes cards about under a
chef's finger and never covers the page buttons; a tap dismisses it.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Static

from caterking_display.ui.card_facts import COLUMN_TITLES, CardState, ColumnId, SortKey, is_urgent
from caterking_display.ui.card_layout import card_height
from caterking_display.ui.widgets.task_card import TaskCard

CARD_GAP = 1  # rows above each card (its top margin)
CARD_GUTTER = 3  # a card's borders and its left padding (board.tcss)
MIN_CARD_ROWS = 3
PAGER_ROWS = 3
MAX_NOTES = 3

_EMPTY_TEXT: dict[ColumnId, str] = {
    ColumnId.TODO: "Nothing waiting.",
    ColumnId.DOING: "Nobody is on a task.",
    ColumnId.DONE: "Nothing done recently.",
}
# Before the first sync an empty column says nothing about the kitchen: say why it is empty.
_NO_BOARD_TEXT: dict[ColumnId, str] = {
    ColumnId.TODO: "No board yet — not connected.",
    ColumnId.DOING: "No board yet.",
    ColumnId.DONE: "No board yet.",
}


class PageButton(Button, can_focus=False):
    """Page a column (touch has no swipe). Never takes focus, so keys stay with the board."""


class CardSlots(Vertical):
    """The page of card widgets."""


@dataclass(frozen=True, slots=True)
class Note:
    text: str
    level: str  # "warning" (not applied), "info" (what another device did)
    until: float  # clock.monotonic() when it goes away on its own
    task_id: str | None = None  # the task it is about: a newer note about it replaces it


class ColumnNote(Widget):
    """Notes drawn over the top of the column's cards; a tap dismisses them."""

    COMPONENT_CLASSES = {"column-note--warning", "column-note--info"}  # noqa: RUF012

    def __init__(self) -> None:
        super().__init__(classes="column-note")
        self.notes: tuple[Note, ...] = ()
        self.display = False

    def set_notes(self, notes: tuple[Note, ...]) -> None:
        if notes == self.notes:
            return
        self.notes = notes
        self.display = bool(notes)
        self.set_class(any(n.level == "warning" for n in notes), "-warning")
        self.refresh(layout=True)

    def render(self) -> Text:
        text = Text()
        for n, note in enumerate(self.notes):
            if n:
                text.append("\n")
            mark = "⚠ " if note.level == "warning" else "• "
            text.append(mark + note.text)
        text.append("\n(tap to close)", "dim")
        return text

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(Column.NoteDismissed(self))


class Column(Vertical):
    """One of To do / In progress / Done."""

    class Paged(Message):
        def __init__(self, column: Column, direction: int) -> None:
            self.column = column
            self.direction = direction
            super().__init__()

    class NoteDismissed(Message):
        def __init__(self, note: ColumnNote) -> None:
            self.note = note
            super().__init__()

    def __init__(
        self,
        column_id: ColumnId,
        states: Mapping[str, CardState],
        is_selected: Callable[[str], bool],
    ) -> None:
        super().__init__(id=f"col-{column_id.value}", classes=f"column -{column_id.value}")
        self.column_id = column_id
        self._states = states
        self._is_selected = is_selected
        self._entries: list[tuple[SortKey, str]] = []
        # task id -> rows it takes (card + gap) with titles wrapped, and with titles cut
        self._pitch: dict[str, tuple[int, int]] = {}
        self._total_roomy = 0
        self._total_compact = 0
        self.roomy = True  # every card fits with its whole title: long titles wrap
        self._card_width = 0  # content width of a card; heights are valid for this width
        self.page_start = 0
        self.page_end = 0  # first index after the visible page
        self._room = 0  # rows for cards on a page
        self._slots: list[TaskCard] = []
        self._shown: dict[str, TaskCard] = {}
        self._no_board = False
        self._note = ColumnNote()
        self._notes: tuple[Note, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static(self._title_text(), classes="column-title", markup=False)
        yield self._note
        yield Static(_EMPTY_TEXT[self.column_id], classes="column-empty", markup=False)
        yield CardSlots(classes="card-slots")
        with Horizontal(classes="pager"):
            yield PageButton("▲ Page", classes="page-up")
            yield PageButton("▼ Page", classes="page-down")

    def on_mount(self) -> None:
        self.query_one(".pager").display = False

    def set_no_board(self, no_board: bool) -> None:
        """Say "No board yet" rather than "Nothing waiting" while nothing was ever synced."""
        if no_board != self._no_board:
            self._no_board = no_board
            texts = _NO_BOARD_TEXT if no_board else _EMPTY_TEXT
            self.query_one(".column-empty", Static).update(texts[self.column_id])

    # ------------------------------------------------------------------ notes

    @property
    def notes(self) -> tuple[Note, ...]:
        return self._notes

    def add_note(self, text: str, level: str, until: float, task_id: str | None = None) -> None:
        """Show a note over this column (newest first; at most MAX_NOTES). A note about
        a task replaces an older one about the same task (the newest says what is true;
        a stack of notes would hide the very card they are about)."""
        kept = tuple(
            n for n in self._notes if n.text != text and (task_id is None or n.task_id != task_id)
        )
        self._notes = (Note(text, level, until, task_id), *kept)[:MAX_NOTES]
        self._note.set_notes(self._notes)

    def expire_notes(self, now: float) -> None:
        kept = tuple(n for n in self._notes if n.until > now)
        if kept != self._notes:
            self._notes = kept
            self._note.set_notes(kept)

    def clear_notes(self) -> None:
        self._notes = ()
        self._note.set_notes(())

    def on_column_note_dismissed(self, message: NoteDismissed) -> None:
        message.stop()
        self.clear_notes()

    # ------------------------------------------------------------------ order

    @property
    def task_ids(self) -> list[str]:
        """Every task in this column, in display order (not only the visible page)."""
        return [tid for _, tid in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def index_of(self, state: CardState) -> int:
        return bisect_left(self._entries, (state.key, state.task_id))

    def add_task(self, state: CardState) -> None:
        entry = (state.key, state.task_id)
        index = bisect_left(self._entries, entry)
        self._entries.insert(index, entry)
        self._set_pitch(state)
        self._changed(index)

    def remove_task(self, state: CardState) -> None:
        index = self.index_of(state)
        del self._entries[index]
        roomy, compact = self._pitch.pop(state.task_id, (0, 0))
        self._total_roomy -= roomy
        self._total_compact -= compact
        self._changed(index)

    def reorder_task(self, state: CardState, key: SortKey) -> None:
        old = self.index_of(state)
        del self._entries[old]
        state.key = key
        insort(self._entries, (key, state.task_id))
        resized = self._set_pitch(state)
        self._changed(0 if resized else min(old, self.index_of(state)))

    def update_task(self, state: CardState) -> None:
        """The task's facts changed; repaint its card if it is on the visible page."""
        if self._set_pitch(state):
            self._changed(self.index_of(state))
            return
        slot = self._shown.get(state.task_id)
        if slot is not None:
            self._bind(slot, state)

    def slot_for(self, task_id: str) -> TaskCard | None:
        """The card widget showing this task, if it is on the visible page."""
        return self._shown.get(task_id)

    def urgent_above(self) -> int:
        """Urgent cards (rush, late, due soon) on earlier pages than the one shown."""
        return sum(
            1 for _, tid in self._entries[: self.page_start] if is_urgent(self._states[tid].facts)
        )

    # ---------------------------------------------------------------- heights

    def _rows(self, task_id: str) -> int:
        """Rows a card takes on the page (with the gap above it), in the current mode."""
        pitch = self._pitch.get(task_id)
        if pitch is None:
            return MIN_CARD_ROWS + CARD_GAP
        return pitch[0] if self.roomy else pitch[1]

    def _bind(self, slot: TaskCard, state: CardState) -> None:
        height = self._rows(state.task_id) - CARD_GAP
        slot.bind(state, self._is_selected(state.task_id), height, wrap_title=self.roomy)

    def _set_pitch(self, state: CardState) -> bool:
        """Record the rows a card takes; True if that changed."""
        width = self._card_width
        rows = (
            (
                card_height(state.facts, width, wrap_title=True) + CARD_GAP,
                card_height(state.facts, width, wrap_title=False) + CARD_GAP,
            )
            if width
            else (MIN_CARD_ROWS + CARD_GAP,) * 2
        )
        old = self._pitch.get(state.task_id)
        if old == rows:
            return False
        self._pitch[state.task_id] = rows
        before = old or (0, 0)
        self._total_roomy += rows[0] - before[0]
        self._total_compact += rows[1] - before[1]
        return old is not None

    def _remeasure(self) -> None:
        self._pitch.clear()
        self._total_roomy = self._total_compact = 0
        for _, tid in self._entries:
            self._set_pitch(self._states[tid])

    # ------------------------------------------------------------------ paging

    def _changed(self, index: int) -> None:
        self.query_one(".column-empty").display = not self._entries
        self._layout_pages()
        if index <= self.page_end:
            self.refresh_page()
        else:
            self._update_title()

    def _update_title(self) -> None:
        self.query_one(".column-title", Static).update(self._title_text())

    def _title_text(self) -> Text:
        """ "To do · 16  (5–8)  ▲ 4 urgent above": the marker outranks the page range."""
        name = f"{COLUMN_TITLES[self.column_id]} · {len(self._entries)}"
        span = ""
        if self.page_start > 0 or self.page_end < len(self._entries):
            span = f"  ({self.page_start + 1}–{max(self.page_start + 1, self.page_end)})"
        urgent = self.urgent_above() if self.page_start else 0
        room = self.size.width - 2 if self.size.width else 999  # the title's padding
        markers = (
            [f"▲ {urgent} urgent above", f"▲ {urgent} urgent", f"▲{urgent}"] if urgent else [""]
        )
        for marker in markers:
            for middle in (span, ""):
                gap = "  " if marker else ""
                if len(name) + len(middle) + len(gap) + len(marker) <= room:
                    return Text.assemble(name, middle, gap, (marker, "bold reverse"))
        return Text.assemble(name, " ", (markers[-1], "bold reverse"))

    def _layout_pages(self) -> None:
        """Choose the room for cards, whether page buttons are needed, and the slots."""
        if not self.size.height:
            return
        width = max(1, self.size.width - CARD_GUTTER)
        if width != self._card_width:
            self._card_width = width
            self._remeasure()
        room = self.size.height - 1  # title row
        # Long titles wrap while every card fits; once the column pages, they are cut so
        # more cards fit on a page (the details show the whole title).
        roomy = self._total_roomy <= room
        if roomy != self.roomy:
            self.roomy = roomy
            for slot in self._slots:
                slot.refresh()
        paged = self._total_compact > room and not roomy
        if paged:
            room -= PAGER_ROWS
        pager = self.query_one(".pager")
        if pager.display != paged:
            pager.display = paged
        self._room = max(MIN_CARD_ROWS + CARD_GAP, room)
        slots = max(1, self._room // (MIN_CARD_ROWS + CARD_GAP))
        if slots != len(self._slots):
            self._set_slot_count(slots)
        self._clamp()

    def _page_from(self, start: int) -> int:
        """The index after the last card that fits on a page starting at ``start``."""
        rows = 0
        end = start
        while end < len(self._entries) and end - start < len(self._slots):
            pitch = self._rows(self._entries[end][1])
            if rows + pitch > self._room and end > start:
                break
            rows += pitch
            end += 1
        return end

    def _clamp(self) -> None:
        n = len(self._entries)
        self.page_start = max(0, min(self.page_start, n - 1)) if n else 0
        # Never leave a half-empty last page when earlier cards would fit.
        while self.page_start > 0 and self._page_from(self.page_start) >= n:
            back = self._page_start_before(self.page_start)
            if self._page_from(back) < n:
                break
            self.page_start = back

    def _page_start_before(self, start: int) -> int:
        """Where the page just before the one starting at ``start`` begins."""
        rows = 0
        begin = start
        while begin > 0 and start - begin < len(self._slots):
            pitch = self._rows(self._entries[begin - 1][1])
            if rows + pitch > self._room and begin < start:
                break
            rows += pitch
            begin -= 1
        return begin

    def _set_slot_count(self, count: int) -> None:
        holder = self.query_one(CardSlots)
        while len(self._slots) < count:
            slot = TaskCard()
            self._slots.append(slot)
            holder.mount(slot)
        while len(self._slots) > count:
            self._slots.pop().remove()

    def refresh_page(self) -> None:
        """Bind the visible page of tasks to the slots; unchanged slots do not repaint."""
        self._clamp()
        self.page_end = self._page_from(self.page_start)
        self._shown.clear()
        for i, slot in enumerate(self._slots):
            index = self.page_start + i
            if index < self.page_end:
                task_id = self._entries[index][1]
                self._bind(slot, self._states[task_id])
                self._shown[task_id] = slot
            else:
                slot.unbind()
        self._update_title()

    def show(self, state: CardState) -> None:
        """Page so that this task is visible (pages are counted from the top)."""
        if not self._slots:
            return
        index = self.index_of(state)
        if self.page_start <= index < self.page_end:
            return
        start = 0
        while True:
            end = self._page_from(start)
            if index < end or end <= start:
                break
            start = end
        self.page_start = start
        self.refresh_page()

    def page(self, direction: int) -> None:
        if not self._slots:
            return
        if direction > 0:
            if self.page_end < len(self._entries):
                self.page_start = self.page_end
        else:
            self.page_start = self._page_start_before(self.page_start)
        self.refresh_page()

    def to_first_page(self) -> bool:
        """Back to the first page; True if it moved."""
        if self.page_start == 0:
            return False
        self.page_start = 0
        self.refresh_page()
        return True

    def first_visible(self) -> str | None:
        if self.page_start < len(self._entries):
            return self._entries[self.page_start][1]
        return None

    def is_visible(self, task_id: str) -> bool:
        return task_id in self._shown

    def on_resize(self) -> None:
        self._layout_pages()
        self.refresh_page()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Paged(self, -1 if event.button.has_class("page-up") else 1))
