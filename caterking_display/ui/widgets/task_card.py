"""One task on the board: a single widget that renders its own text (no nested labels).

A card is a slot in its column's visible page, bound to one task's `CardState` at a time.
Binding equal `CardFacts` does nothing, so a tick or an unrelated store change never
repaints it. State is shown with CSS classes. What goes on which line is decided by
`card_layout` (pure), so the column can page by the same line counts.

The action button ("▶ Claim" / "✓ Done") is drawn by the card itself on its right side,
the card's full height, rather than being a child widget: a tap then always lands on this
one widget, and the card tells the app which part of it was tapped.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from caterking_display.domain.task import Status
from caterking_display.ui.card_facts import CardFacts, CardState, Urgency
from caterking_display.ui.card_layout import (
    COMPACT_BUTTON_WIDTH,
    Line,
    button_width,
    card_lines,
    has_button,
)

SYNCING = "⟳ syncing"

__all__ = ["COMPACT_BUTTON_WIDTH", "SYNCING", "ButtonFace", "TaskCard"]


class ButtonFace(NamedTuple):
    label: str
    mark: str
    style: str  # component class suffix


_BUTTONS: dict[Status, ButtonFace] = {
    Status.PENDING: ButtonFace("▶ Claim", "▶", "button-claim"),
    Status.CLAIMED: ButtonFace("✓ Done", "✓", "button-done"),
}


class TaskCard(Widget):
    """A task card. A tap on the body selects it (a second tap opens its details); a tap
    on its action button selects it and runs the next step at once."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "task-card--title",
        "task-card--rush",
        "task-card--high",
        "task-card--soon",
        "task-card--late",
        "task-card--syncing",
        "task-card--meta",
        "task-card--who",
        "task-card--allergen",
        "task-card--similar",
        "task-card--notes",
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
        self.wrap_title = True
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
        if facts.allergens:
            names.add("-allergens")
        return names

    def bind(self, state: CardState, selected: bool, height: int, *, wrap_title: bool) -> None:
        """Show this task; repaint only if what the card says (or its state) changed."""
        self.task_id = state.task_id
        if wrap_title != self.wrap_title:
            self.wrap_title = wrap_title
            self.refresh()
        self.set_class(selected, "-selected")
        self.set_class(state.flash, "-flash")
        self.set_class(state.changed, "-changed")
        if not self.display:
            self.display = True
        if self.styles.height is None or self.styles.height.value != height:
            self.styles.height = height
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
        if self.facts is None:
            return 0
        return button_width(self.content_size.width, has_button(self.facts))

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

    def _text(self, line: Line) -> Text:
        text = Text()
        for seg in line:
            if seg.style:
                text.append(seg.text, self._style(seg.style))
            else:
                text.append(seg.text)
        return text

    def render(self) -> Text:
        f = self.facts
        if f is None:
            return Text()
        bw = self.button_width()
        width = max(1, self.content_size.width - bw)
        lines = [
            self._text(line)
            for line in card_lines(f, width, wrap_title=self.wrap_title, syncing_word=SYNCING)
        ]
        while len(lines) < 3:
            lines.append(Text())
        for line in lines:
            if line.cell_len > width:
                line.truncate(width, overflow="ellipsis")
        face = self.button
        if face is not None and bw:
            label = face.label if bw >= len(face.label) + 2 else face.mark
            style = self._style(face.style)
            blank = " " * bw
            middle = (len(lines) - 1) // 2
            before = (bw - len(label)) // 2
            after = bw - len(label) - before
            for n, line in enumerate(lines):
                line.pad_right(width - line.cell_len)
                if n != middle:
                    line.append(blank, style)
                    continue
                # The mark is its own span (not bold) and no span starts with a space: SVG
                # viewers then draw each glyph in its own cell, as a terminal does.
                mark, gap, word = label.partition(" ")
                line.append(" " * before, style)
                line.append(mark + gap, style + Style(bold=False))
                line.append(word + " " * after, style)
        return Text("\n").join(lines)
