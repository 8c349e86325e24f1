"""The setup screen: checks as you type, save once it can work, touch or keys alone.

The checks themselves run against the real stack in tests/e2e/test_device_setup.py; here
a scripted port answers, so the screen's behaviour is what is tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from textual.widgets import Button, Input

from caterking_display.domain.clock import FixedClock
from caterking_display.domain.setup import FoundServer, SetupDraft, Step, StepResult
from caterking_display.domain.sync_status import ConnectionState, ErrorKind, SyncStatus
from caterking_display.ui.app import RESTART_WITH_NEW_SETTINGS
from caterking_display.ui.screens.setup import SetupScreen
from caterking_display.ui.setup_app import SetupApp
from caterking_display.ui.widgets.connection_banner import ConnectionBanner
from caterking_display.ui.widgets.keyboard import OnScreenKeyboard
from tests.ui.conftest import build, screen_text, wait_for
from tests.ui.data import T0, small_board

GOOD = SetupDraft("http://10.0.0.5:54321", "anon", "pass@k.example", "secret", "")


@dataclass
class Port:
    """Answers like the real checks: everything passes for GOOD, else the sign-in fails."""

    checked: list[SetupDraft] = field(default_factory=list)
    saved: list[SetupDraft] = field(default_factory=list)
    servers: list[FoundServer] = field(default_factory=list)
    down: bool = False  # the server cannot be reached
    remembered: str | None = None  # the password the server last accepted on this host

    async def check(self, draft: SetupDraft) -> list[StepResult]:
        self.checked.append(draft)
        if self.down:
            return [StepResult(Step.SERVER, False, "unreachable")]
        if draft.missing():
            return [StepResult(Step.SERVER, True), StepResult(Step.SIGN_IN, None, "missing")]
        if draft.password != GOOD.password:
            return [
                StepResult(Step.SERVER, True),
                StepResult(Step.SIGN_IN, False, "invalid_credentials"),
            ]
        return [
            StepResult(Step.SERVER, True),
            StepResult(Step.SIGN_IN, True),
            StepResult(Step.KITCHEN, True, "", "Harbour Kitchen"),
            StepResult(Step.REALTIME, True),
            StepResult(Step.STATION, None, "all", "Grill, Veg"),
        ]

    async def scan(self) -> list[FoundServer]:
        return self.servers

    def save(self, draft: SetupDraft) -> None:
        self.saved.append(draft)

    async def opens_offline(self, draft: SetupDraft) -> bool:
        return self.remembered is not None and draft.password == self.remembered


def setup_app(port: Port, draft: SetupDraft | None = None, **kw: object) -> SetupApp:
    return SetupApp(port, draft or SetupDraft(), FixedClock(T0), **kw)  # type: ignore[arg-type]


def save_button(app: SetupApp) -> Button:
    return app.screen.query_one("#setup-save", Button)


async def test_checks_run_as_you_type_and_save_waits_until_it_can_work() -> None:
    port = Port()
    app = setup_app(port, SetupDraft(GOOD.url, GOOD.anon_key, GOOD.email, "wrong"))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: port.checked, within=5)
        await wait_for(pilot, lambda: "Sign-in refused" in screen_text(app), within=5)
        assert "email or password is wrong" in screen_text(app)
        assert save_button(app).disabled
        field = app.screen.query_one("#setup-password", Input)
        field.value = GOOD.password
        await wait_for(pilot, lambda: not save_button(app).disabled, within=5)
        assert "Kitchen found: Harbour Kitchen" in screen_text(app)
        await pilot.click("#setup-save")
        await wait_for(pilot, lambda: bool(port.saved))
    assert port.saved == [GOOD]
    assert app.return_value == GOOD


async def test_scan_fills_in_the_kitchen_server() -> None:
    port = Port(servers=[FoundServer("http://192.168.1.20:54321", "found-key")])
    app = setup_app(port)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#setup-scan")
        await wait_for(
            pilot, lambda: app.screen.query_one("#setup-url", Input).value.endswith(":54321")
        )
        assert app.screen.query_one("#setup-anon_key", Input).value == "found-key"


async def test_nothing_found_by_a_scan_says_what_to_do() -> None:
    port = Port()
    app = setup_app(port)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#setup-scan")
        await wait_for(pilot, lambda: "No kitchen server answered" in screen_text(app))


async def test_touch_alone_types_with_the_on_screen_keyboard() -> None:
    port = Port()
    app = setup_app(port, SetupDraft(GOOD.url, GOOD.anon_key, GOOD.email, ""))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#setup-keyboard")
        kb = app.screen.query_one(OnScreenKeyboard)
        await wait_for(pilot, lambda: kb.display)
        await pilot.click(app.screen.query_one("#setup-password", Input))
        for ch in "secrett":
            key = next(k for k in kb.query(".kb-key").results(Button) if k.name == ch)
            await pilot.click(key)
        back = next(k for k in kb.query(Button).results(Button) if k.name == "back")
        await pilot.click(back)
        assert app.screen.query_one("#setup-password", Input).value == "secret"
        await wait_for(pilot, lambda: not save_button(app).disabled, within=5)


async def test_a_kiosk_in_setup_leaves_only_by_the_exit_chord() -> None:
    app = setup_app(Port(), kiosk=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("ctrl+q", "ctrl+c", "escape")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, SetupScreen)
        await pilot.press("ctrl+x", "ctrl+x")
        await wait_for(pilot, lambda: app._exit)
    assert app.return_value is None


async def test_sign_in_failed_on_the_board_opens_the_setup_and_keeps_the_outbox() -> None:
    port = Port()
    app, store, _ = build(small_board(), skip_picker=True, default_staff_id=None)
    app.setup = port  # type: ignore[assignment]
    app.setup_draft = SetupDraft(GOOD.url, GOOD.anon_key, GOOD.email, "old")
    failed = SyncStatus(
        ConnectionState.AUTH_FAILED,
        since=T0,
        error_kind=ErrorKind.SIGN_IN,
        error_code="invalid_credentials",
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter", "1")  # a claim waiting to be sent
        await wait_for(pilot, lambda: bool(store.pending_ops()))
        app.set_status(failed)
        await wait_for(
            pilot, lambda: "tap here or press F2" in app.query_one(ConnectionBanner).render().plain
        )
        await pilot.click(ConnectionBanner)
        await wait_for(pilot, lambda: isinstance(app.screen, SetupScreen))
        await wait_for(pilot, lambda: "Sign-in failed" in screen_text(app))
        app.screen.query_one("#setup-password", Input).value = GOOD.password
        await wait_for(pilot, lambda: not app.screen.query_one("#setup-save", Button).disabled, 5)
        await pilot.click("#setup-save")
        await wait_for(pilot, lambda: app._exit)
    assert app.return_code == RESTART_WITH_NEW_SETTINGS
    assert port.saved[-1].password == GOOD.password
    assert len(store.pending_ops()) == 1  # nothing a chef did was touched


async def test_in_kiosk_mode_the_board_offers_setup_only_while_sign_in_fails() -> None:
    app, _, _ = build(small_board(), kiosk=True)
    app.setup = Port()  # type: ignore[assignment]
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        assert not isinstance(app.screen, SetupScreen)


async def test_a_tablet_opens_its_saved_board_when_the_server_is_out_of_reach() -> None:
    # A tablet reloaded in an outage: the server cannot check the password, but the host
    # remembers the one it last accepted, so the chef gets the saved board and can work.
    port = Port(down=True, remembered=GOOD.password)
    app = setup_app(port, replace(GOOD, password="wrong"), account_only=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: "Cannot reach the server" in screen_text(app), within=5)
        assert save_button(app).disabled  # a wrong password opens nothing, offline or not
        assert "saved board opens" not in screen_text(app)
        app.screen.query_one("#setup-password", Input).value = GOOD.password
        await wait_for(pilot, lambda: not save_button(app).disabled, within=5)
        assert str(save_button(app).label) == "Open the saved board"
        assert "saved board opens" in screen_text(app)
        await pilot.click("#setup-save")
        await wait_for(pilot, lambda: app.return_value is not None, within=5)
    assert app.return_value == GOOD


async def test_a_first_setup_never_opens_offline() -> None:
    # Only a tablet's sign-in on a host that holds its board: a new display must reach
    # the server once.
    port = Port(down=True, remembered=GOOD.password)
    app = setup_app(port, GOOD)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: len(port.checked) >= 1, within=5)
        await wait_for(pilot, lambda: "reach" in screen_text(app), within=5)
        assert save_button(app).disabled
        assert str(save_button(app).label) == "Save and open the board"
