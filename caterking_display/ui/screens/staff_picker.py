"""'Who?': pick the chef for a claim or completion. Big buttons, keys 1–9, Escape cancels.

More than nine chefs: the picker shows nine at a time; 0 (or PgDn, or the "More chefs"
button) shows the next nine, PgUp the previous ones, so every chef is reachable by key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from caterking_display.domain.task import Staff

PAGE_SIZE = 9


class StaffPicker(ModalScreen[str | None]):
    """Dismisses with the chosen staff id, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n), f"choose({n})", show=False) for n in range(1, 10)),
        Binding("0,pagedown", "page(1)", "More chefs", id="picker_more"),
        Binding("pageup", "page(-1)", show=False),
        Binding("escape", "cancel", "Cancel", id="picker_cancel"),
        Binding("left,up,h,k", "app.focus_previous", show=False),
        Binding("right,down,l,j", "app.focus_next", show=False),
    ]

    def __init__(
        self,
        staff: Sequence[Staff],
        preselected: str | None,
        question: str,
        *,
        task_id: str | None = None,
    ) -> None:
        super().__init__()
        self.staff = list(staff)
        self.preselected = preselected
        self.question = question
        self.task_id = task_id  # the task this answer is for (the board may close it)
        self.page = 0
        for i, person in enumerate(self.staff):
            if person.id == preselected:
                self.page = i // PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.staff) // PAGE_SIZE))

    def _on_page(self) -> list[Staff]:
        return self.staff[self.page * PAGE_SIZE : (self.page + 1) * PAGE_SIZE]

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-dialog"):
            yield Static(self.question, id="picker-question", markup=False)
            yield Grid(id="picker-grid")
            yield Static("", id="picker-hint", markup=False)
            with Horizontal(id="picker-buttons"):
                yield Button("Cancel (Esc)", id="picker-cancel", variant="error")
                if self.pages > 1:
                    yield Button("More chefs (0)", id="picker-more")

    async def on_mount(self) -> None:
        await self._show_page()

    async def _show_page(self) -> None:
        grid = self.query_one("#picker-grid", Grid)
        await grid.remove_children()
        buttons = [
            Button(f"{n}  {person.display_name}", id=f"pick-{n}", name=person.id, classes="pick")
            for n, person in enumerate(self._on_page(), start=1)
        ]
        await grid.mount_all(buttons)
        hint = "Enter picks the highlighted chef"
        if self.pages > 1:
            first = self.page * PAGE_SIZE + 1
            last = first + len(buttons) - 1
            hint += f" · chefs {first}–{last} of {len(self.staff)}: 0 for more"
        self.query_one("#picker-hint", Static).update(hint)
        target = next((b for b in buttons if b.name == self.preselected), None)
        target = target or (buttons[0] if buttons else None)
        if target is not None:
            target.focus()

    def action_choose(self, n: int) -> None:
        on_page = self._on_page()
        if 1 <= n <= len(on_page):
            self.dismiss(on_page[n - 1].id)

    async def action_page(self, direction: int) -> None:
        if self.pages > 1:
            self.page = (self.page + direction) % self.pages
            await self._show_page()

    def action_cancel(self) -> None:
        self.dismiss(None)

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "picker-cancel":
            self.dismiss(None)
        elif event.button.id == "picker-more":
            await self.action_page(1)
        elif event.button.name:
            self.dismiss(event.button.name)
