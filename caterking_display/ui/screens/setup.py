"""Set up this display: the server, the device account and the station, checked as typed.

Shown instead of an error when the configuration is missing or incomplete, and from the
board when sign-in fails ("fix the account"), without touching the saved board or the
actions waiting to be sent. The checks run a moment after typing stops and say what to
fix in plain words; "Save" is offered once the display can really work. Everything can
be done by touch alone (an on-screen keyboard, big buttons) or by keyboard alone (Tab
between fields, Enter on a button).
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Input, Static

from caterking_display.domain.setup import STEPS, SetupDraft, StepResult
from caterking_display.ui.ports import SetupPort
from caterking_display.ui.setup_words import ready, step_words
from caterking_display.ui.widgets.keyboard import OnScreenKeyboard

CHECK_AFTER_SECONDS = 0.8  # after typing stops
RECHECK_UNREACHABLE_SECONDS = 3.0  # while the server cannot be reached
_FIELDS: tuple[tuple[str, str, str, bool], ...] = (
    ("url", "Server address", "https://xyz.supabase.co or http://192.168.1.20:54321", False),
    ("anon_key", "Server key (anon key)", "eyJ…", False),
    ("email", "Device account email", "pass-display@yourkitchen.example", False),
    ("password", "Device account password", "", True),
    ("station", "Station (optional)", "Grill, Pastry … empty: all stations", False),
)


OFFLINE_LABEL = "Open the saved board"
OFFLINE_WORDS = (
    "The server cannot be reached. This tablet's saved board opens; what you do is kept"
    " here and sent when the server is back."
)


class SetupScreen(Screen[SetupDraft | None]):
    """Dismisses with the saved draft, or None (cancelled: only from the board)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="setup_cancel"),
        Binding("f2", "keyboard", "Keyboard", id="setup_keyboard"),
    ]

    def __init__(
        self,
        port: SetupPort,
        draft: SetupDraft,
        *,
        cancellable: bool,
        why: str = "",
        account_only: bool = False,
    ) -> None:
        super().__init__()
        self.account_only = account_only  # the server is this host's: only the account
        self.port = port
        self.draft = draft
        self.cancellable = cancellable
        self.why = why
        self.results: list[StepResult] = []
        self._checked: SetupDraft | None = None
        self._timer: Timer | None = None
        self._field: Input | None = None  # the box the on-screen keyboard types into
        self._offline = False  # the server is out of reach, but this account may open
        self._save_label = "Sign in" if account_only else "Save and open the board"

    def compose(self) -> ComposeResult:
        if self.why:  # what brought the chef here stays in view above the form
            yield Static(self.why, id="setup-why", markup=False)
        with VerticalScroll(id="setup-form"):
            yield Static(
                "Sign in with this tablet's display account"
                if self.account_only
                else "Set up this display",
                classes="dialog-title",
            )
            for name, label, placeholder, secret in _FIELDS:
                hidden = self.account_only and name in ("url", "anon_key")
                yield Static(label, classes="setup-label" + (" -hidden" if hidden else ""))
                with Horizontal(classes="setup-row" + (" -hidden" if hidden else "")):
                    field = Input(
                        getattr(self.draft, name),
                        placeholder=placeholder,
                        password=secret,
                        id=f"setup-{name}",
                        classes="setup-input",
                    )
                    # A steady cursor: no redraw twice a second on a Pi, and a screen
                    # that looks the same whenever it is looked at.
                    field.cursor_blink = False
                    yield field
                    if name == "url":
                        yield Button("Scan", id="setup-scan")
        # The checks and the buttons stay in view, however small the screen and wherever
        # the form is scrolled.
        yield Static(self._checks_text(), id="setup-checks")
        with Horizontal(id="setup-buttons"):
            yield Button(self._save_label, id="setup-save", variant="success")
            keyboard = Button("⌨ Keyboard (F2)", id="setup-keyboard")
            keyboard.can_focus = False  # showing the keyboard must not take the focus away
            yield keyboard
            if self.cancellable:
                yield Button("Cancel (Esc)", id="setup-cancel", variant="error")
        kb = OnScreenKeyboard(id="setup-kb")
        kb.display = False
        yield kb

    def on_mount(self) -> None:
        self.query_one("#setup-save", Button).disabled = True
        # A failed sign-in is usually fixed in the password; else start where it is empty.
        fields = _FIELDS[2:4] if self.account_only else _FIELDS[:4]
        start = next((n for n, *_ in fields if not getattr(self.draft, n)), None)
        if self.why:
            start = "password"
        first = self.query_one(f"#setup-{start or 'url'}", Input)
        self._field = first
        first.focus()
        self._schedule()

    # --- checking as typed -------------------------------------------------------------

    def _read(self) -> SetupDraft:
        values = {name: self.query_one(f"#setup-{name}", Input).value for name, *_ in _FIELDS}
        return SetupDraft(**values)

    @on(Input.Changed)
    def _typed(self, _event: Input.Changed) -> None:
        self.draft = self._read()
        self.query_one("#setup-save", Button).disabled = True
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(CHECK_AFTER_SECONDS, self._check)

    def _check(self) -> None:
        self.run_worker(self._run_check(self.draft), exclusive=True, group="setup-check")

    async def _run_check(self, draft: SetupDraft) -> None:
        self.query_one("#setup-checks", Static).update(self._checks_text(checking=True))
        results = await self.port.check(draft)
        unreachable = any(r.code == "unreachable" for r in results)
        offline = self.account_only and unreachable and await self.port.opens_offline(draft)
        if draft != self.draft:
            return  # typed on meanwhile: a newer check follows
        self.results = results
        self._checked = draft
        self._offline = offline
        self.query_one("#setup-checks", Static).update(self._checks_text())
        save = self.query_one("#setup-save", Button)
        save.disabled = not (ready(results) or offline)
        label = OFFLINE_LABEL if offline else self._save_label
        if str(save.label) != label:
            save.label = label
            save.refresh(layout=True)  # the button grows or shrinks with its words
        if unreachable:
            # The network may come back (a reloaded tablet mid-outage): look again soon.
            self._timer = self.set_timer(RECHECK_UNREACHABLE_SECONDS, self._check)

    def _checks_text(self, *, checking: bool = False) -> Text:
        text = Text()
        by_step = {r.step: r for r in self.results}
        for step in STEPS:
            r = by_step.get(step, StepResult(step, None))
            mark, words = step_words(r)
            style = {"✓": "bold green", "✗": "bold red", "!": "bold yellow"}.get(mark, "dim")
            text.append(f" {mark} ", style)
            text.append(words + "\n")
        if self._offline:
            text.append(" ! ", "bold yellow")
            text.append(OFFLINE_WORDS + "\n")
        if checking:
            text.append(" … checking", "dim italic")
        return text

    # --- buttons -------------------------------------------------------------------------

    @on(Button.Pressed, "#setup-scan")
    def _scan(self) -> None:
        self.query_one("#setup-checks", Static).update(
            Text(" … looking for a kitchen server on this network", "dim italic")
        )
        self.run_worker(self._run_scan(), exclusive=True, group="setup-scan")

    async def _run_scan(self) -> None:
        found = await self.port.scan()
        usable = [f for f in found if f.anon_key]
        if not usable:
            self.query_one("#setup-checks", Static).update(
                Text(
                    " No kitchen server answered on this network. Type the address and key"
                    " the manager gave you.",
                    "bold yellow",
                )
            )
            return
        best = usable[0]
        self.query_one("#setup-url", Input).value = best.url
        self.query_one("#setup-anon_key", Input).value = best.anon_key or ""
        self.draft = replace(self._read(), url=best.url, anon_key=best.anon_key or "")
        self._schedule()

    @on(Button.Pressed, "#setup-save")
    def _save(self) -> None:
        draft = self._read()
        if draft != self._checked or not (ready(self.results) or self._offline):
            self._schedule()  # changed since the last check: check again first
            return
        try:
            self.port.save(draft)
        except OSError as exc:
            self.query_one("#setup-checks", Static).update(
                Text(f" Could not save the settings: {exc.strerror}", "bold red")
            )
            return
        self.dismiss(draft)

    @on(Button.Pressed, "#setup-cancel")
    def _cancel_button(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#setup-keyboard")
    def _keyboard_button(self) -> None:
        self.action_keyboard()

    def action_cancel(self) -> None:
        if self.cancellable:
            self.dismiss(None)

    def action_keyboard(self) -> None:
        self._show_keyboard(not self.query_one(OnScreenKeyboard).display)

    def _show_keyboard(self, show: bool) -> None:
        """The keyboard takes the checks' place (a small screen has no room for both); the
        box being typed into stays in view."""
        self.query_one(OnScreenKeyboard).display = show
        self.query_one("#setup-checks").display = not show
        if self._field is not None:
            self.call_after_refresh(self._field.scroll_visible, animate=False)

    # --- the on-screen keyboard ------------------------------------------------------------

    @on(events.DescendantFocus)
    def _remember_field(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, Input):
            self._field = event.widget
            if self.query_one(OnScreenKeyboard).display:
                self.call_after_refresh(event.widget.scroll_visible, animate=False)

    def on_on_screen_keyboard_typed(self, message: OnScreenKeyboard.Typed) -> None:
        # A tap on a key may take the focus from the box: type into the last box used.
        field = self._field or self.query_one("#setup-url", Input)
        if self.focused is not field:
            field.focus()
        if message.text == "\b":
            field.action_delete_left()
        else:
            field.insert_text_at_cursor(message.text)

    def on_on_screen_keyboard_closed(self, _message: OnScreenKeyboard.Closed) -> None:
        self._show_keyboard(False)
