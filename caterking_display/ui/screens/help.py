"""Help: every key, generated from the action registry and the active keymap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from caterking_display.ui.actions import DIALOG_KEYS, REGISTRY, keys_for


def help_table(keymap: Mapping[str, str], *, kiosk: bool) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=True)
    table.add_column("keys", style="bold", no_wrap=True)
    table.add_column("what")
    for action in REGISTRY:
        if kiosk and action.id == "quit":
            continue
        if not kiosk and action.id == "exit_chord":
            continue
        table.add_row(keys_for(action.id, keymap), action.description)
    for keys, what in DIALOG_KEYS:
        table.add_row(keys, what)
    table.add_row("tap a card", "Select it; tap it again for its details (notes, allergens)")
    table.add_row("tap ▶ Claim / ✓ Done", "Run the card's next step")
    table.add_row("bottom bar", "Undo, Release, Recall, Station, Not applied, Help by touch")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help_close"),
        Binding("down,j", "scroll(1)", show=False),
        Binding("up,k", "scroll(-1)", show=False),
        Binding("pagedown", "scroll(10)", show=False),
        Binding("pageup", "scroll(-10)", show=False),
    ]

    def __init__(self, keymap: Mapping[str, str], *, kiosk: bool) -> None:
        super().__init__()
        self.keymap = keymap
        self.kiosk = kiosk

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static("Keys", classes="dialog-title")
            with VerticalScroll(can_focus=False, id="help-scroll"):
                yield Static(help_table(self.keymap, kiosk=self.kiosk), id="help-table")
            yield Static("", id="help-more", markup=False)
            yield Button("Close (Esc)", id="help-close")

    def on_mount(self) -> None:
        self.call_after_refresh(self._say_more)

    def _say_more(self) -> None:
        """Say so when there is more below or above (small screens scroll)."""
        scroll = self.query_one("#help-scroll", VerticalScroll)
        parts = []
        if scroll.scroll_y > 0:
            parts.append("▲ more above")
        if scroll.scroll_y < scroll.max_scroll_y:
            parts.append("▼ more below")
        text = " · ".join(parts)
        if text:
            text += " — ↑ ↓ PgUp PgDn (or swipe) to scroll"
        self.query_one("#help-more", Static).update(text)

    def action_scroll(self, lines: int) -> None:
        scroll = self.query_one("#help-scroll", VerticalScroll)
        scroll.scroll_to(y=scroll.scroll_y + lines, animate=False, immediate=True)
        self._say_more()

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)
