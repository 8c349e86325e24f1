"""A board column: a title with a count, the cards in order, and page buttons on overflow.

The column keeps its cards' sort keys in a sorted list parallel to its children, so a new
or moved card finds its place by bisection instead of re-sorting or recomposing.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Static

from caterking_display.ui.card_facts import COLUMN_TITLES, ColumnId, SortKey
from caterking_display.ui.widgets.task_card import TaskCard

_EMPTY_TEXT: dict[ColumnId, str] = {
    ColumnId.TODO: "Nothing waiting.",
    ColumnId.DOING: "Nobody is on a task.",
    ColumnId.DONE: "Nothing done recently.",
}


class CardList(VerticalScroll, can_focus=False):
    """The scrolling body of a column; keys go to the app, not to the scroller."""


class PageButton(Button, can_focus=False):
    """Page a column (touch has no swipe). Never takes focus, so keys stay with the board."""


class Column(Vertical):
    """One of To do / In progress / Done."""

    class Paged(Message):
        def __init__(self, column: Column, direction: int) -> None:
            self.column = column
            self.direction = direction
            super().__init__()

    def __init__(self, column_id: ColumnId) -> None:
        super().__init__(id=f"col-{column_id.value}", classes=f"column -{column_id.value}")
        self.column_id = column_id
        self._keys: list[tuple[SortKey, str]] = []
        self._cards: list[TaskCard] = []

    def compose(self) -> ComposeResult:
        yield Static(self._title_text(), classes="column-title", markup=False)
        yield Static(_EMPTY_TEXT[self.column_id], classes="column-empty", markup=False)
        yield CardList(classes="card-list")
        with Horizontal(classes="pager"):
            yield PageButton("▲ Page", classes="page-up")
            yield PageButton("▼ Page", classes="page-down")

    def on_mount(self) -> None:
        self.query_one(".pager").display = False

    @property
    def body(self) -> CardList:
        return self.query_one(CardList)

    @property
    def cards(self) -> list[TaskCard]:
        """The cards in display order."""
        return self._cards

    def _title_text(self) -> str:
        return f"{COLUMN_TITLES[self.column_id]} · {len(self._keys)}"

    def index_of(self, card: TaskCard) -> int:
        return bisect_left(self._keys, (card.key, card.task_id))

    def add_card(self, card: TaskCard) -> None:
        entry = (card.key, card.task_id)
        index = bisect_left(self._keys, entry)
        self._keys.insert(index, entry)
        self._cards.insert(index, card)
        if index < len(self._cards) - 1:
            self.body.mount(card, before=self._cards[index + 1])
        else:
            self.body.mount(card)
        self._changed()

    def remove_card(self, card: TaskCard) -> None:
        index = self.index_of(card)
        del self._keys[index]
        del self._cards[index]
        card.remove()
        self._changed()

    def reorder_card(self, card: TaskCard, key: SortKey) -> None:
        """Move a card within this column when its sort key changed."""
        index = self.index_of(card)
        del self._keys[index]
        del self._cards[index]
        card.key = key
        entry = (key, card.task_id)
        insort(self._keys, entry)
        new_index = bisect_left(self._keys, entry)
        self._cards.insert(new_index, card)
        if new_index < len(self._cards) - 1:
            self.body.move_child(card, before=self._cards[new_index + 1])
        elif len(self._cards) > 1:
            self.body.move_child(card, after=self._cards[new_index - 1])

    def _changed(self) -> None:
        self.query_one(".column-title", Static).update(self._title_text())
        self.query_one(".column-empty").display = not self._keys
        self.call_after_refresh(self.update_pager)

    def update_pager(self) -> None:
        """Show page buttons only when the cards overflow the column."""
        if not self.is_attached:
            return
        self.query_one(".pager").display = self.body.max_scroll_y > 0

    def on_resize(self) -> None:
        self.call_after_refresh(self.update_pager)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Paged(self, -1 if event.button.has_class("page-up") else 1))
