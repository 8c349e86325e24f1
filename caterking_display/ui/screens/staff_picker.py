"""'Who?': pick the chef for a claim or completion. Big buttons, keys 1–9, Escape cancels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from caterking_display.domain.task import Staff


class StaffPicker(ModalScreen[str | None]):
    """Dismisses with the chosen staff id, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n), f"choose({n})", show=False) for n in range(1, 10)),
        Binding("escape", "cancel", "Cancel", id="picker_cancel"),
        Binding("left,up,h,k", "app.focus_previous", show=False),
        Binding("right,down,l,j", "app.focus_next", show=False),
    ]

    def __init__(self, staff: Sequence[Staff], preselected: str | None, question: str) -> None:
        super().__init__()
        self.staff = list(staff)
        self.preselected = preselected
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-dialog"):
            yield Static(self.question, id="picker-question", markup=False)
            with Grid(id="picker-grid"):
                for n, person in enumerate(self.staff, start=1):
                    label = f"{n}  {person.display_name}" if n <= 9 else person.display_name
                    yield Button(label, id=f"pick-{n}", name=person.id, classes="pick")
            yield Static("Enter picks the highlighted chef", id="picker-hint")
            yield Button("Cancel (Esc)", id="picker-cancel", variant="error")

    def on_mount(self) -> None:
        target = 0
        for i, person in enumerate(self.staff):
            if person.id == self.preselected:
                target = i
        buttons = list(self.query(".pick").results(Button))
        if buttons:
            buttons[target].focus()

    def action_choose(self, n: int) -> None:
        if 1 <= n <= len(self.staff):
            self.dismiss(self.staff[n - 1].id)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "picker-cancel":
            self.dismiss(None)
        elif event.button.name:
            self.dismiss(event.button.name)
