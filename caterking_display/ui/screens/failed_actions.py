"""Actions that were not applied (refused, or lost a conflict): kept where staff can see
them, so nothing a chef did disappears silently."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from caterking_display.domain.board import FailedAction
from caterking_display.ui.action_words import WORDS
from caterking_display.ui.notice_words import conflict_words, plain_reason


def failed_table(
    failed: Sequence[FailedAction], staff_name: Callable[[str | None], str], tz: tzinfo | None
) -> Table | str:
    if not failed:
        return "Every action was applied."
    table = Table(box=None, expand=True, padding=(0, 2, 0, 0))
    table.add_column("When", no_wrap=True)
    table.add_column("Action", no_wrap=True)
    table.add_column("Task")
    table.add_column("Who")
    table.add_column("Why")
    for f in sorted(failed, key=lambda f: f.at, reverse=True):
        # A conflict says who won ("Already claimed by Maria"); a refusal says why.
        if f.outcome != "conflict":
            why = plain_reason(f.reason)
        elif f.winner is not None or not f.message:
            why = conflict_words(f.op.action, f.winner, f.op.staff_id, staff_name)
        else:
            why = f.message  # an entry from an older store file: its words as shown then
        table.add_row(
            f"{f.at.astimezone(tz):%H:%M}",
            WORDS[f.op.action].label,
            f.task_title or "(unknown task)",
            staff_name(f.op.staff_id),
            why,
        )
    return table


class FailedActionsScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f,q", "close", "Close", id="failed_close")
    ]

    def __init__(
        self,
        failed: Sequence[FailedAction],
        staff_name: Callable[[str | None], str],
        tz: tzinfo | None,
    ) -> None:
        super().__init__()
        self.failed = list(failed)
        self.staff_name = staff_name
        self.tz = tz

    def compose(self) -> ComposeResult:
        with Vertical(id="failed-dialog", classes="dialog"):
            yield Static(
                f"Actions not applied · {len(self.failed)}", classes="dialog-title", markup=False
            )
            with VerticalScroll(can_focus=False):
                yield Static(failed_table(self.failed, self.staff_name, self.tz), id="failed-list")
            yield Button("Close (Esc)", id="failed-close")

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)
