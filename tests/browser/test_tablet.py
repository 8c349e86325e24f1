"""A station tablet in a real browser: Debian's chromium driven by Playwright, against
`caterking-display web` and the real local stack over real sockets.

Sign in, see the board live (a terminal board of the same kitchen counts the tablet as a
device online), claim and complete a task by tapping its buttons, see it on the terminal
board, and reload the page in the middle of an outage: signed in again while the server
is still out of reach, the tablet's saved board opens with the action waiting, which is
delivered once the server is back. Screenshots of each step are kept in
``test-artifacts/browser/`` (look at them).

Without chromium (or the Playwright package) these tests are reported as skipped, with
the reason, never as passed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from caterking_display.app_main import tablet_data_dir
from caterking_server.stack import LocalStack
from tests.e2e.boards import live_board, until
from tests.faultproxy import FaultProxy, free_port
from tests.pg import Kitchen, add_task, connect
from tests.stack import Device, create_display
from tests.waiting import until as until_true

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The board's rows: header, connection line (one row in every state), column titles, the
# gap above the first card, then the first card (rows 4–6).
CARD_ROW = 5
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
# As the machine's own probe runs it: no background traffic, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    from playwright.async_api import Page, async_playwright
except ImportError:  # pragma: no cover - the dev install has it
    async_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"browser tests not run: no chromium at {CHROMIUM}"
    ),
    pytest.mark.skipif(
        async_playwright is None, reason="browser tests not run: playwright is not installed"
    ),
    pytest.mark.xdist_group("browser"),
]


@pytest.fixture
async def proxy(stack: LocalStack) -> AsyncIterator[FaultProxy]:
    host, port = stack.url.removeprefix("http://").rsplit(":", 1)
    p = await FaultProxy(host, int(port)).start()
    try:
        yield p
    finally:
        await p.stop()


@pytest.fixture
async def web(stack: LocalStack, proxy: FaultProxy, tmp_path: Path) -> AsyncIterator[str]:
    """`caterking-display web` on a free port, reaching the stack through the proxy."""
    port = free_port()
    env = {
        **os.environ,
        "SUPABASE_URL": proxy.url,
        "SUPABASE_ANON_KEY": stack.anon_key,
        "CATERKING_DATA_DIR": str(tmp_path / "host"),
    }
    for var in ("CATERKING_DEVICE_EMAIL", "CATERKING_DEVICE_PASSWORD"):
        env.pop(var, None)
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before the test
        [sys.executable, "-m", "caterking_display.cli", "web", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        import httpx

        async def up() -> bool:
            try:
                async with httpx.AsyncClient() as c:
                    return (await c.get(url, timeout=1)).status_code == 200
            except httpx.HTTPError:
                return False

        deadline = time.monotonic() + 30
        while not await up():
            assert proc.poll() is None, "web server exited"
            assert time.monotonic() < deadline, "web server did not start"
            await asyncio.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)


class Tablet:
    """The browser page, with taps placed by terminal cell."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.cols = 0
        self.rows = 0
        self.shot = 0
        self.url = ""
        page.on("websocket", self._socket)

    def _socket(self, ws: Any) -> None:
        m = re.search(r"width=(\d+)&height=(\d+)", ws.url)
        if m:
            self.cols, self.rows = int(m.group(1)), int(m.group(2))

    async def open(self, url: str) -> None:
        self.url = url
        self.cols = self.rows = 0
        await self.page.goto(url)
        await self.page.wait_for_selector("body.-first-byte", timeout=20_000)

    async def tap(self, col: float, row: float) -> None:
        box = await self.page.locator(".xterm-screen").bounding_box()
        assert box is not None and self.cols and self.rows
        cw, rh = box["width"] / self.cols, box["height"] / self.rows
        await self.page.mouse.click(box["x"] + (col + 0.5) * cw, box["y"] + (row + 0.5) * rh)

    async def press(self, key: str) -> None:
        await self.page.keyboard.press(key)

    async def until(
        self,
        act: Callable[[], Awaitable[None]],
        done: Callable[[], bool],
        *,
        within: float,
        shot: str | None = None,
        give_up: bool = True,
    ) -> None:
        """Do ``act`` until ``done()`` holds (each try given a moment to take effect):
        a browser on a loaded host draws when it can, so a tap can land before the
        button it aims at is there. After ``within`` seconds: fails with a screenshot,
        or (``give_up=False``) returns for the caller to try something else."""
        deadline = time.monotonic() + within
        while not done():
            if time.monotonic() > deadline:
                if not give_up:
                    return
                await self.screenshot("gave-up")
                raise AssertionError(f"not done within {within} s")
            await act()
            if shot is not None:
                await self.screenshot(shot)
                shot = None
            try:
                await until_true(done, within=1.0)
            except TimeoutError:
                continue

    async def repainted(self, before: bytes, within: float = 20) -> None:
        """Until the page shows something other than ``before`` and has stopped
        changing (two looks in a row alike): the board has been drawn."""
        deadline = time.monotonic() + within
        last = before
        while True:
            now = await self.page.screenshot()
            if now != before and now == last:
                return
            if time.monotonic() > deadline:
                raise AssertionError("the page never settled on a new picture")
            last = now  # (taking a screenshot takes a frame or more: no sleep needed)

    async def screenshot(self, name: str) -> None:
        self.shot += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{self.shot:02d}-{name}.png"))

    def column_right(self, n: int) -> int:
        """The last cell of board column ``n`` (three equal columns, one-cell gaps)."""
        width = (self.cols - 2) / 3
        return int((n + 1) * width + n) - 1

    async def sign_in(
        self,
        dev: Device,
        data_dir: Path,
        within: float = 40,
    ) -> None:
        """Type the account, then tap Sign in until this tablet's board has started on the
        host (the button is off until the checks pass, which retry on their own while the
        server cannot be reached; each board that starts says so in its log)."""
        before = sessions_started(data_dir)

        async def fill(box_row: int, text: str) -> None:
            # Tap the box, then type into it, as a person with a tablet does.
            await self.tap(10, box_row)
            await self.page.keyboard.type(text, delay=20)  # quick, but as fingers type

        def started() -> bool:
            return sessions_started(data_dir) != before

        deadline = time.monotonic() + within
        first = True
        while not started():
            if time.monotonic() > deadline:
                await self.screenshot("never-signed-in")
                raise AssertionError("never signed in")
            if not first:
                # A page can show before the session behind it takes every key (a
                # loaded host): start again on a fresh page, as a person would.
                await self.screenshot("sign-in-retyped")
                await self.open(self.url)
            await fill(5, dev.email)  # the email box (rows 4–6)
            await fill(10, dev.password)  # the password box (rows 9–11)
            first = False
            await self.until(
                lambda: self.tap(6, self.rows - 2),  # the Sign in button, bottom left
                started,
                within=min(15.0, max(0.0, deadline - time.monotonic())),
                give_up=False,
            )


def sessions_started(data_dir: Path) -> int:
    """How many boards this tablet's account has started on the host (from its log)."""
    log = data_dir / "display.log"
    return log.read_text().count("web session for") if log.exists() else 0


def outbox_size(data_dir: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(data_dir / "board.sqlite3") as c:
            return int(c.execute("select count(*) from ops").fetchone()[0])
    except sqlite3.Error:
        return -1


async def test_a_tablet_signs_in_claims_completes_and_survives_a_reload_mid_outage(
    stack: LocalStack, kitchen: Kitchen, proxy: FaultProxy, web: str, tmp_path: Path
) -> None:
    with connect(stack.db_dsn) as conn:
        tid = add_task(conn, kitchen, title="Dice onions", station="Veg")
    tablet_dev = create_display(stack.url, stack.service_role_key, kitchen)
    data_dir = tablet_data_dir(tmp_path / "host", tablet_dev.email)
    assert async_playwright is not None
    async with (
        live_board(stack, kitchen, tmp_path / "wall", "wall") as (wall_store, wall, wp),
        async_playwright() as pw,
    ):
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            tab = Tablet(page)
            await tab.open(web)
            await tab.screenshot("sign-in")
            # Nothing of the kitchen before signing in.
            assert not data_dir.exists()
            await tab.sign_in(tablet_dev, data_dir)
            # Live: the wall board counts the tablet among the devices online.
            await until(wp, lambda: wall.status.devices_online >= 2, within=20)
            await tab.screenshot("board-live")

            # Claim by tapping the card's ▶ Claim button, then choose the first chef. The
            # tablet may draw its board a moment after the wall counts it online (a loaded
            # host), so tap and choose again until the claim has landed: a tap before the
            # card is there does nothing, and "1" does nothing without the picker.
            def claimed() -> bool:
                vt = wall_store.get(tid)
                return vt is not None and vt.task.status.value == "claimed" and not vt.pending

            async def tap_claim_and_choose() -> None:
                before = await tab.page.screenshot()
                await tab.tap(tab.column_right(0) - 3, CARD_ROW)
                try:
                    await tab.repainted(before, within=3)  # the picker is drawn
                except AssertionError:
                    return  # nothing changed: the card was not there yet
                await tab.press("1")

            await tab.until(tap_claim_and_choose, claimed, within=30, shot="claim-tapped")
            await tab.screenshot("claimed")
            started = time.monotonic()

            # The kitchen's Wi-Fi drops; tap ✓ Done: the action waits on the host. (The
            # tap is repeated until it lands: the card may still be drawing in Doing.)
            await proxy.refuse(True)
            await tab.until(
                lambda: tab.tap(tab.column_right(1) - 3, CARD_ROW),
                lambda: outbox_size(data_dir) == 1,
                within=20,
            )
            await tab.screenshot("done-offline")
            # Reload the page mid-outage: the session ends; the action stays on the host.
            await tab.open(web)
            await tab.screenshot("reloaded-offline")

            # Still offline: the server cannot check the password, but the host remembers
            # the one it accepted, so the tablet's saved board opens, action waiting.
            form = await page.screenshot()
            await tab.sign_in(tablet_dev, data_dir)
            await tab.repainted(form)
            await tab.screenshot("board-offline")
            assert outbox_size(data_dir) == 1
            await proxy.heal()
            await until(
                wp,
                lambda: (vt := wall_store.get(tid)) is not None and vt.task.status.value == "done",
                within=30,
            )
            await tab.screenshot("delivered")
            assert time.monotonic() - started < 60
        finally:
            await browser.close()
    with connect(stack.db_dsn) as conn:
        ops = conn.execute(
            "select action, outcome from task_ops where task_id = %s order by received_at",
            (tid,),
        ).fetchall()
    assert [(o["action"], o["outcome"]) for o in ops] == [
        ("claim", "applied"),
        ("complete", "applied"),
    ]


async def test_a_tablet_in_portrait_still_gets_a_whole_board(
    stack: LocalStack, kitchen: Kitchen, web: str, tmp_path: Path
) -> None:
    # A 10" tablet held upright: smaller text, but at least 80 columns, and the board.
    with connect(stack.db_dsn) as conn:
        add_task(conn, kitchen, title="Pick parsley", station="Veg")
    dev = create_display(stack.url, stack.service_role_key, kitchen)
    data_dir = tablet_data_dir(tmp_path / "host", dev.email)
    assert async_playwright is not None
    async with (
        live_board(stack, kitchen, tmp_path / "wall", "wall") as (_store, wall, wp),
        async_playwright() as pw,
    ):
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 800, "height": 1280})
            tab = Tablet(page)
            await tab.open(web)
            assert tab.cols >= 80, tab.cols
            await tab.sign_in(dev, data_dir)
            await until(wp, lambda: wall.status.devices_online >= 2, within=20)
            await tab.screenshot("portrait")
        finally:
            await browser.close()
