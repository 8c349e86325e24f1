"""One task on the board: a single widget that renders its own text (no nested labels).

A card is a slot in its column's visible page, bound to one task's `CardState` at a time.
Binding equal `CardFacts` does nothing, so a tick or an unrelated store change never
repaints it. State is shown with CSS classes.

The action button ("▶ Claim" / "✓ Done") is drawn by the card itself on its right side,
all three rows tall, rather than being a child widget: a tap then always lands on this one
widget, and the card tells the app which part of it was tapped.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from caterking_display.domain.task import Status
from caterking_display.ui.card_facts import CardFacts, CardState, Urgency, fit_detail

SYNCING = "⟳ syncing"

BUTTON_WIDTH = 10
"""The labelled button's width; touch targets want ≥ 12 columns with the padding beside it."""
COMPACT_BUTTON_WIDTH = 3
"""A narrow card shows only the button's mark, still three columns by three rows."""
MIN_TEXT_WIDTH = 22
"""Text cells the labelled button must leave; below this the card uses the compact button."""


class ButtonFace(NamedTuple):
    label: str
    mark: str
    style: str  # component class suffix


# Done cards get no button: recall is a deliberate key (`r`), not a stray tap on the board.
_BUTTONS: dict[Status, ButtonFace] = {
    Status.PENDING: ButtonFace("▶ Claim", "▶", "button-claim"),
    Status.CLAIMED: ButtonFace("✓ Done", "✓", "button-done"),
}


class TaskCard(Widget):
    """A task card. A tap on the body selects it (and runs the next step if it was already
    selected); a tap on its action button selects it and runs the next step at once."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "task-card--title",
        "task-card--rush",
        "task-card--high",
        "task-card--soon",
        "task-card--late",
        "task-card--syncing",
        "task-card--meta",
        "task-card--who",
        "task-card--button-claim",
        "task-card--button-done",
    }

    class Tapped(Message):
        """The card was clicked or tapped; `on_button` if on its action button."""

        def __init__(self, card: TaskCard, *, on_button: bool = False) -> None:
            self.card = card
            self.on_button = on_button
            super().__init__()

    def __init__(self) -> None:
        super().__init__()
        self.task_id: str | None = None
        self.facts: CardFacts | None = None
        self.display = False
        self._pressed_on_button: bool | None = None

    @staticmethod
    def _classes_for(facts: CardFacts) -> set[str]:
        names = set()
        if facts.badge == "RUSH":
            names.add("-rush")
        elif facts.badge == "HIGH":
            names.add("-high")
        if facts.urgency is Urgency.SOON:
            names.add("-soon")
        elif facts.urgency is Urgency.LATE:
            names.add("-late")
        if facts.syncing:
            names.add("-syncing")
        if facts.status is Status.DONE:
            names.add("-done")
        return names

    def bind(self, state: CardState, selected: bool) -> None:
        """Show this task; repaint only if what the card says (or its state) changed."""
        self.task_id = state.task_id
        self.set_class(selected, "-selected")
        if not self.display:
            self.display = True
        facts = state.facts
        if facts == self.facts:
            return
        old = self._classes_for(self.facts) if self.facts else set()
        new = self._classes_for(facts)
        self.facts = facts
        if old != new:
            self.remove_class(*(old - new))
            self.add_class(*(new - old))
        self.refresh()

    def unbind(self) -> None:
        self.task_id = None
        if self.display:
            self.display = False

    @property
    def selected(self) -> bool:
        return self.has_class("-selected")

    @property
    def button(self) -> ButtonFace | None:
        """The action button this card shows, if any."""
        return _BUTTONS.get(self.facts.status) if self.facts else None

    def button_width(self) -> int:
        """Cells the button takes in the content area (0 when the card has none)."""
        if self.button is None:
            return 0
        width = self.content_size.width
        if width - BUTTON_WIDTH >= MIN_TEXT_WIDTH:
            return BUTTON_WIDTH
        return COMPACT_BUTTON_WIDTH if width - COMPACT_BUTTON_WIDTH >= 1 else 0

    def button_x(self) -> int | None:
        """The first column (widget-relative) of the button's tap region, which runs on
        to the card's right edge (padding and border too); None when there is no button."""
        width = self.button_width()
        if not width:
            return None
        return self.gutter.left + self.content_size.width - width

    def _on_button(self, x: int) -> bool:
        start = self.button_x()
        return start is not None and x >= start

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self._pressed_on_button = self._on_button(event.x)

    def on_click(self, event: events.Click) -> None:
        # Like a real button, a press that slid onto (or off) the button is a plain tap.
        pressed, self._pressed_on_button = self._pressed_on_button, None
        on_button = self._on_button(event.x) and pressed is not False
        if self.task_id is not None:
            self.post_message(self.Tapped(self, on_button=on_button))

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"task-card--{name}", partial=True)

    def _claimer(self, f: CardFacts, name: str, sync_word: bool) -> Text:
        right = Text()
        if f.syncing:
            right.append(SYNCING if sync_word else SYNCING[0], self._style("syncing"))
        if name:
            if right:
                right.append(" ")
            right.append(name, self._style("who"))
            if f.since:
                right.append(f" {f.since}", self._style("meta"))
        return right

    def render(self) -> Text:
        f = self.facts
        if f is None:
            return Text()
        button_width = self.button_width()
        # The button's own colour sets it apart from the text: no gap column is needed.
        width = max(1, self.content_size.width - button_width)
        title = Text()
        if f.badge:
            title.append(f" {f.badge} ", self._style("rush" if f.badge == "RUSH" else "high"))
            title.append(" ")
        title.append(f.title, self._style("title"))
        title.truncate(width, overflow="ellipsis")

        meta = self._style("meta")
        # A bare "11:30" is ambiguous (due? done?): keep the word, shorten the detail.
        clock = f.due_clock
        room = width - len(clock) - (1 if clock else 0)
        detail = fit_detail(f.quantity, f.station, room)
        line2 = _spread(Text(detail, meta), Text(clock, meta), width)

        left = Text(f.countdown)
        if f.urgency is Urgency.SOON:
            left.stylize(self._style("soon"))
        elif f.urgency is Urgency.LATE:
            left.stylize(self._style("late"))
        else:
            left.stylize(meta)
        # Full name where it fits, then initials, then the bare syncing mark.
        for name, sync_word in ((f.who, True), (f.who_short, True), (f.who_short, False)):
            right = self._claimer(f, name, sync_word)
            if left.cell_len + 1 + right.cell_len <= width:
                break
        line3 = _spread(left, right, width)
        lines = [title, line2, line3]
        face = self.button
        if face is not None and button_width:
            label = face.label if button_width >= len(face.label) + 2 else face.mark
            style = self._style(face.style)
            for line in lines:
                line.pad_right(width - line.cell_len)
            blank = " " * button_width
            lines[0].append(blank, style)
            lines[2].append(blank, style)
            before = (button_width - len(label)) // 2
            after = button_width - len(label) - before
            # The mark is its own span (not bold) and no span starts with a space: SVG
            # viewers then draw each glyph in its own cell, as a terminal does.
            mark, gap, word = label.partition(" ")
            lines[1].append(" " * before, style)
            lines[1].append(mark + gap, style + Style(bold=False))
            lines[1].append(word + " " * after, style)
        return Text("\n").join(lines)


def _spread(left: Text, right: Text, width: int) -> Text:
    """`left` flush left and `right` flush right on one line of `width` cells."""
    if right.cell_len > width:
        right.truncate(width, overflow="ellipsis")
    room = width - right.cell_len - (1 if right.cell_len else 0)
    if left.cell_len > room:
        left.truncate(max(0, room), overflow="ellipsis")
    gap = width - left.cell_len - right.cell_len
    return Text.assemble(left, " " * max(0, gap), right)
