"""The setup screen on its own, for a display that has no (or an incomplete) configuration.

Quit keys work as on the board: Ctrl+Q / Ctrl+C, or in kiosk mode only the exit chord
pressed twice, so a kiosk stays a kiosk while it is being set up.
"""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from caterking_display.domain.clock import Clock
from caterking_display.domain.setup import SetupDraft
from caterking_display.ui.actions import keys_for
from caterking_display.ui.ports import SetupPort
from caterking_display.ui.screens.setup import SetupScreen
from caterking_display.ui.themes import THEMES, theme_name

_STYLES = Path(__file__).parent / "styles"
EXIT_CONFIRM_SECONDS = 2.0


class SetupApp(App[SetupDraft | None], inherit_bindings=False):
    CSS_PATH: ClassVar[list[str | PurePath]] = [_STYLES / "board.tcss"]
    TITLE = "CaterKing Display — setup"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+x", "exit_chord", "Leave", id="exit_chord", priority=True),
        Binding("ctrl+q,ctrl+c", "quit_setup", "Quit", id="quit", priority=True),
    ]

    def __init__(
        self,
        port: SetupPort,
        draft: SetupDraft,
        clock: Clock,
        *,
        kiosk: bool = False,
        exit_chord: str = "ctrl+x",
        theme: str = "dark",
        account_only: bool = False,
    ) -> None:
        super().__init__()
        self.account_only = account_only
        self.port = port
        self.draft = draft
        self.clock = clock
        self.kiosk = kiosk
        self.exit_chord = exit_chord
        self._armed: float | None = None
        self.animation_level = "none"
        self.use_command_palette = False
        for t in THEMES:
            self.register_theme(t)
        self.theme = theme_name(theme)

    def on_mount(self) -> None:
        self.set_keymap({"exit_chord": self.exit_chord})
        self.push_screen(
            SetupScreen(self.port, self.draft, cancellable=False, account_only=self.account_only),
            callback=self._done,
        )

    def _done(self, draft: SetupDraft | None) -> None:
        self.exit(draft)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "quit_setup":
            return not self.kiosk
        return True

    def action_quit_setup(self) -> None:
        self.exit(None)

    def action_exit_chord(self) -> None:
        now = self.clock.monotonic()
        armed, self._armed = self._armed, now
        if armed is not None and 0 <= now - armed <= EXIT_CONFIRM_SECONDS:
            self.exit(None)
            return
        key = keys_for("exit_chord", {"exit_chord": self.exit_chord}).split(", ")[0]
        self.notify(f"Press {key} again to leave the setup", timeout=EXIT_CONFIRM_SECONDS)
