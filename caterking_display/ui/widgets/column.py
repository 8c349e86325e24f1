"""A board column: a title with a count, one page of cards, and page buttons on overflow.

The column holds the order of *all* its tasks as a sorted list of (sort key, id) — plain
data — but mounts only as many card widgets ("slots") as fit on screen, and binds the
visible page of tasks to them. A change on a board of 1,000 tasks therefore touches at most
one page of widgets: cost does not grow with the board (house style; issue 5 §7).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Mapping

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

from caterking_display.ui.card_facts import COLUMN_TITLES, CardState, ColumnId, SortKey
from caterking_display.ui.widgets.task_card import TaskCard

CARD_PITCH = 4  # a card is 3 rows tall plus 1 row of gap
PAGER_ROWS = 3

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


class Column(Vertical):
    """One of To do / In progress / Done."""

    class Paged(Message):
        def __init__(self, column: Column, direction: int) -> None:
            self.column = column
            self.direction = direction
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
        self.page_start = 0
        self.capacity = 0
        self._slots: list[TaskCard] = []
        self._shown: dict[str, TaskCard] = {}
        self._no_board = False

    def compose(self) -> ComposeResult:
        yield Static(self._title_text(), classes="column-title", markup=False)
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
        self._changed(index)

    def remove_task(self, state: CardState) -> None:
        index = self.index_of(state)
        del self._entries[index]
        self._changed(index)

    def reorder_task(self, state: CardState, key: SortKey) -> None:
        old = self.index_of(state)
        del self._entries[old]
        state.key = key
        insort(self._entries, (key, state.task_id))
        self._changed(min(old, self.index_of(state)))

    def update_task(self, state: CardState) -> None:
        """The task's facts changed; repaint its card if it is on the visible page."""
        slot = self._shown.get(state.task_id)
        if slot is not None:
            slot.bind(state, self._is_selected(state.task_id))

    def slot_for(self, task_id: str) -> TaskCard | None:
        """The card widget showing this task, if it is on the visible page."""
        return self._shown.get(task_id)

    # ------------------------------------------------------------------ paging

    def _changed(self, index: int) -> None:
        self.query_one(".column-empty").display = not self._entries
        self._layout_pages()
        if index < self.page_start + self.capacity:
            self.refresh_page()
        else:
            self._update_title()

    def _update_title(self) -> None:
        self.query_one(".column-title", Static).update(self._title_text())

    def _title_text(self) -> str:
        text = f"{COLUMN_TITLES[self.column_id]} · {len(self._entries)}"
        if self.capacity and len(self._entries) > self.capacity:
            last = min(len(self._entries), self.page_start + self.capacity)
            text += f"  ({self.page_start + 1}–{last})"
        return text

    def _clamp(self) -> None:
        self.page_start = max(0, min(self.page_start, len(self._entries) - self.capacity))

    def _layout_pages(self) -> None:
        """Choose how many cards fit and whether page buttons are needed."""
        if not self.size.height:
            return
        room = self.size.height - 1  # title row
        capacity = max(1, room // CARD_PITCH)
        paged = len(self._entries) > capacity
        if paged:
            capacity = max(1, (room - PAGER_ROWS) // CARD_PITCH)
        pager = self.query_one(".pager")
        if pager.display != paged:
            pager.display = paged
        if capacity != self.capacity:
            self.capacity = capacity
            self._set_slot_count(capacity)
        self._clamp()

    def _set_slot_count(self, count: int) -> None:
        holder = self.query_one(CardSlots)
        while len(self._slots) < count:
            slot = TaskCard()
            self._slots.append(slot)
            holder.mount(slot)
        while len(self._slots) > count:
            self._slots.pop().remove()
        self.refresh_page()

    def refresh_page(self) -> None:
        """Bind the visible page of tasks to the slots; unchanged slots do not repaint."""
        self._clamp()
        self._shown.clear()
        for i, slot in enumerate(self._slots):
            index = self.page_start + i
            if index < len(self._entries):
                task_id = self._entries[index][1]
                state = self._states[task_id]
                slot.bind(state, self._is_selected(task_id))
                self._shown[task_id] = slot
            else:
                slot.unbind()
        self._update_title()

    def show(self, state: CardState) -> None:
        """Page so that this task is visible."""
        if not self.capacity:
            return
        index = self.index_of(state)
        if index < self.page_start or index >= self.page_start + self.capacity:
            self.page_start = (index // self.capacity) * self.capacity
            self.refresh_page()

    def page(self, direction: int) -> None:
        if not self.capacity:
            return
        self.page_start += direction * self.capacity
        self.refresh_page()

    def first_visible(self) -> str | None:
        if self.page_start < len(self._entries):
            return self._entries[self.page_start][1]
        return None

    def on_resize(self) -> None:
        self._layout_pages()
        self.refresh_page()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Paged(self, -1 if event.button.has_class("page-up") else 1))
