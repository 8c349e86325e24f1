"""One task on the board: a single widget that renders its own text (no nested labels).

A card is a slot in its column's visible page, bound to one task's `CardState` at a time.
Binding equal `CardFacts` does nothing, so a tick or an unrelated store change never
repaints it. State is shown with CSS classes.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.widget import Widget

from caterking_display.domain.task import Status
from caterking_display.ui.card_facts import CardFacts, CardState, Urgency, fit_detail

SYNCING = "⟳ syncing"


class TaskCard(Widget):
    """A task card. Click selects; clicking the selected card runs its next step."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "task-card--title",
        "task-card--rush",
        "task-card--high",
        "task-card--soon",
        "task-card--late",
        "task-card--syncing",
        "task-card--meta",
        "task-card--who",
    }

    class Tapped(Message):
        """The card was clicked or tapped."""

        def __init__(self, card: TaskCard) -> None:
            self.card = card
            super().__init__()

    def __init__(self) -> None:
        super().__init__()
        self.task_id: str | None = None
        self.facts: CardFacts | None = None
        self.display = False

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

    def on_click(self, event: object) -> None:
        if self.task_id is not None:
            self.post_message(self.Tapped(self))

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
        width = max(1, self.content_size.width)
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
        return Text("\n").join([title, line2, line3])


def _spread(left: Text, right: Text, width: int) -> Text:
    """`left` flush left and `right` flush right on one line of `width` cells."""
    if right.cell_len > width:
        right.truncate(width, overflow="ellipsis")
    room = width - right.cell_len - (1 if right.cell_len else 0)
    if left.cell_len > room:
        left.truncate(max(0, room), overflow="ellipsis")
    gap = width - left.cell_len - right.cell_len
    return Text.assemble(left, " " * max(0, gap), right)
