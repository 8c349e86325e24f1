"""Recall: the last finished tasks, newest first, with who finished them and when.

A chef chooses the one to put back (keys 1–9, arrows and Enter, or a tap); nothing is
reopened without that choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Static

RECALL_LIMIT = 20


@dataclass(frozen=True, slots=True)
class RecallItem:
    task_id: str
    title: str
    detail: str  # "48 pcs · Pastry — Ben Okafor, 10:56"


class RecallRow(Widget, can_focus=True):
    """One finished task: two lines, the whole row a tap target; Enter chooses it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space", "choose", show=False),
        # Here, not only on the screen: the list's scroll view would take the arrows.
        Binding("down,j", "app.focus_next", show=False),
        Binding("up,k", "app.focus_previous", show=False),
    ]

    class Chosen(Message):
        def __init__(self, task_id: str) -> None:
            self.task_id = task_id
            super().__init__()

    def __init__(self, n: int, item: RecallItem) -> None:
        super().__init__(classes="recall-item")
        self.n = n
        self.item = item

    def render(self) -> Text:
        key = f"{self.n}  " if self.n <= 9 else "   "
        return Text.assemble((f"{key}{self.item.title}", "bold"), f"\n   {self.item.detail}")

    def action_choose(self) -> None:
        self.post_message(self.Chosen(self.item.task_id))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.action_choose()


class RecallScreen(ModalScreen[str | None]):
    """Dismisses with the chosen task id, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n), f"choose({n})", show=False) for n in range(1, 10)),
        Binding("escape,r,q", "cancel", "Close", id="recall_close"),
        Binding("up,k", "app.focus_previous", show=False),
        Binding("down,j", "app.focus_next", show=False),
    ]

    def __init__(self, items: Sequence[RecallItem], preselected: str | None) -> None:
        super().__init__()
        self.items = list(items)[:RECALL_LIMIT]
        self.preselected = preselected

    def compose(self) -> ComposeResult:
        with Vertical(id="recall-dialog", classes="dialog"):
            yield Static(
                "Put a finished task back in To do · choose one (1–9, or tap)",
                classes="dialog-title",
                markup=False,
            )
            with VerticalScroll(id="recall-list", can_focus=False):
                if not self.items:
                    yield Static("Nothing finished recently.", classes="dialog-empty")
                for n, item in enumerate(self.items, start=1):
                    yield RecallRow(n, item)
            yield Button("Close (Esc)", id="recall-close")

    def on_mount(self) -> None:
        rows = list(self.query(RecallRow))
        target = next(
            (r for r in rows if r.item.task_id == self.preselected), rows[0] if rows else None
        )
        (target or self.query_one("#recall-close", Button)).focus()

    def on_recall_row_chosen(self, message: RecallRow.Chosen) -> None:
        message.stop()
        self.dismiss(message.task_id)

    def action_choose(self, n: int) -> None:
        if 1 <= n <= len(self.items):
            self.dismiss(self.items[n - 1].task_id)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)
