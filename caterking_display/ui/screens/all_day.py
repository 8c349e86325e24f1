"""All-day counts: open quantities by kind across the board (or the filtered station)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from caterking_display.ui.all_day import AllDayLine


def all_day_table(lines: Sequence[AllDayLine]) -> Table | str:
    if not lines:
        return "Nothing open."
    table = Table(box=None, expand=True, padding=(0, 2, 0, 0))
    table.add_column("What")
    table.add_column("How much", no_wrap=True)
    table.add_column("Tasks", justify="right", no_wrap=True)
    for line in lines:
        table.add_row(line.label, line.amounts or "—", str(line.tasks))
    return table


class AllDayScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,a,q", "close", "Close", id="all_day_close")
    ]

    def __init__(self, lines: Sequence[AllDayLine], where: str) -> None:
        super().__init__()
        self.lines = list(lines)
        self.where = where

    def compose(self) -> ComposeResult:
        with Vertical(id="all-day-dialog", classes="dialog"):
            yield Static(
                f"All day · {self.where} · open tasks by kind (similar kinds together)",
                classes="dialog-title",
                markup=False,
            )
            with VerticalScroll(can_focus=False):
                yield Static(all_day_table(self.lines), id="all-day-list")
            yield Button("Close (Esc)", id="all-day-close")

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)
