"""Admin announcements, end to end over real sockets: the simulator broadcasts on the
kitchen's private Realtime channel through the REST broadcast endpoint (service key),
and a headless board app shows the banner line; another kitchen's never does."""

from __future__ import annotations

import ast
import json
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from caterking_display.domain.sync_status import SyncStatus
from caterking_display.ui.widgets.announcement import Announcement
from caterking_server.cli import main
from caterking_server.simulate import ANNOUNCEMENTS, KitchenSimulator, make_announcement
from caterking_server.stack import LocalStack
from tests.e2e.boards import live_board, until
from tests.pg import Kitchen, connect, seed_kitchen


def banner(app: Any) -> Announcement:
    return app.query_one("#announcement", Announcement)  # type: ignore[no-any-return]


def shows(app: Any, text: str) -> bool:
    w = banner(app)
    return bool(w.display) and text in str(w.render())


@asynccontextmanager
async def board(
    stack: LocalStack, kitchen: Kitchen, data_dir: Path, name: str
) -> AsyncIterator[tuple[Any, Any, list[str]]]:
    """A live headless board for `kitchen`: (app, pilot, every announcement it heard)."""
    heard: list[str] = []

    def on_status(status: SyncStatus) -> None:
        if status.announcement and (not heard or heard[-1] != status.announcement):
            heard.append(status.announcement)

    async with live_board(stack, kitchen, data_dir, name, on_status=on_status) as (
        _store,
        app,
        pilot,
    ):
        assert not banner(app).display  # nothing announced yet
        yield app, pilot, heard


def simulator(stack: LocalStack, kitchen: Kitchen, **kw: Any) -> KitchenSimulator:
    return KitchenSimulator(
        stack.url, stack.service_role_key, kitchen.kitchen_id, rng=random.Random(3), **kw
    )


async def test_simulator_announcement_shows_on_the_board(
    stack: LocalStack, kitchen: Kitchen, tmp_path: Path
) -> None:
    # announce_every=1: every step is an announcement, as `--announce-every 1` would do.
    sim = simulator(stack, kitchen, announce_every=1)
    try:
        async with board(stack, kitchen, tmp_path / "pass", "pass") as (app, pilot, heard):
            what = await sim.step()
            assert what.startswith("admin announced ")
            text = ast.literal_eval(what.removeprefix("admin announced "))
            started = time.monotonic()
            await until(pilot, lambda: shows(app, text), within=5)
            assert time.monotonic() - started < 3
            assert heard == [text]
            # A later announcement replaces the banner line.
            second = await sim.announce("Henley wedding moved to 19:30")
            await until(pilot, lambda: shows(app, second), within=5)
            assert "Announcement: Henley wedding moved to 19:30" in str(banner(app).render())
    finally:
        await sim.close()
    assert sim.counts == {"announce": 2}


async def test_another_kitchens_announcement_never_shows(
    stack: LocalStack, kitchen: Kitchen, tmp_path: Path
) -> None:
    with connect(stack.db_dsn) as conn:
        other = seed_kitchen(conn)
    sim = simulator(stack, kitchen)
    try:
        async with (
            board(stack, kitchen, tmp_path / "ours", "ours") as (app, pilot, heard),
            board(stack, other, tmp_path / "theirs", "theirs") as (app_o, pilot_o, heard_o),
        ):
            foreign = await sim.announce(
                "Table 4 is nut-free: label all canapés", kitchen_id=other.kitchen_id
            )
            # It was delivered (the other kitchen's board shows it)...
            await until(pilot_o, lambda: shows(app_o, foreign), within=5)
            # ...and then ours gets its own; the foreign one never arrived before or after.
            ours = await sim.announce("Service starts in 15 minutes")
            await until(pilot, lambda: shows(app, ours), within=5)
            await pilot.pause(0.5)
            assert heard == [ours]
            assert heard_o == [foreign]
            assert shows(app, ours) and not shows(app, foreign)
    finally:
        await sim.close()


async def test_step_without_announcements_never_announces(
    stack: LocalStack, kitchen: Kitchen
) -> None:
    sim = simulator(stack, kitchen, target_open=4)
    try:
        for _ in range(30):
            assert "announced" not in await sim.step()
    finally:
        await sim.close()
    assert "announce" not in sim.counts


async def test_announce_sends_supabase_rest_broadcast_shape() -> None:
    """The first request is Supabase's documented body; a 404 falls back to the per-topic
    route realtime-py's http_send uses (what the local stack serves)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404 if len(seen) == 1 else 202)

    sim = KitchenSimulator("http://supabase.test/", "svc", "k1")
    sim._http = httpx.AsyncClient(
        transport=httpx.MockTransport(handler),
        headers={"apikey": "svc", "Authorization": "Bearer svc"},
    )
    assert await sim.announce("Hi", kitchen_id="k1") == "Hi"
    first, second = seen
    assert first.method == "POST"
    assert str(first.url) == "http://supabase.test/realtime/v1/api/broadcast"
    assert first.headers["authorization"] == "Bearer svc" and first.headers["apikey"] == "svc"
    assert json.loads(first.content) == {
        "messages": [
            {
                "topic": "kitchen:k1",
                "event": "announcement",
                "payload": {"message": "Hi"},
                "private": True,
            }
        ]
    }
    assert str(second.url) == (
        "http://supabase.test/realtime/v1/api/broadcast/kitchen%3Ak1/events/announcement"
        "?private=true"
    )
    assert json.loads(second.content) == {"message": "Hi"}
    assert await sim.announce("Again", kitchen_id="k1") == "Again"
    await sim.close()
    # The server lacks the batch route: later announcements go straight to the per-topic one.
    assert len(seen) == 3 and "/events/announcement" in str(seen[2].url)
    assert sim.counts == {"announce": 2}


def test_announcements_read_like_a_kitchen() -> None:
    rng = random.Random(1)
    texts = {make_announcement(rng) for _ in range(200)}
    assert len(texts) > len(ANNOUNCEMENTS)  # templates are filled, not repeated verbatim
    assert all("{" not in t and len(t) < 80 for t in texts)


def test_cli_rejects_negative_announce_every(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--url", "http://x", "--service-key", "k", "--announce-every", "-1"]
    assert main(args) == 2
    assert "--announce-every" in capsys.readouterr().err


HOSTILE = {
    "osc52": "\x1b]52;c;ZWNobyBwd25lZA==\x07",  # set the clipboard
    "osc2": "\x1b]2;PWNED\x07",  # set the window title
    "csi": "\x1b[2J\x1b[H",  # clear the screen
    "c1": "\x9b2J",  # the 8-bit CSI
    "bidi": "\u202e",  # right-to-left override: text reads backwards
}


async def test_escape_sequences_from_the_server_never_reach_the_terminal(
    stack: LocalStack, kitchen: Kitchen, tmp_path: Path
) -> None:
    # An announcement and a task title carrying raw terminal control bytes, sent as any
    # user of the channel or Admin could: the board shows the words, never the bytes.
    evil = "Canapés out" + "".join(HOSTILE.values()) + " at 12:30"
    with connect(stack.db_dsn) as conn:
        tid = conn.execute(
            "insert into tasks (tenant_id, kitchen_id, title, notes) values (%s, %s, %s, %s)"
            " returning id",
            (kitchen.tenant_id, kitchen.kitchen_id, "Dice" + HOSTILE["osc2"] + " onions", evil),
        ).fetchone()["id"]
    sim = simulator(stack, kitchen)
    try:
        async with board(stack, kitchen, tmp_path / "pass", "pass") as (app, pilot, _heard):
            await sim.announce(evil)
            await until(pilot, lambda: shows(app, "Canapés out"), within=5)
            await until(pilot, lambda: str(tid) in app._cards, within=5)
            shown = str(banner(app).render())
            assert "Canapés out" in shown and "at 12:30" in shown
            card = app._cards[str(tid)].facts
            assert card.title == "Dice onions"
            screen = app.export_screenshot()
            for name, raw in HOSTILE.items():
                for part in (raw, raw[:2]):
                    assert part not in shown, name
                    assert part not in card.notes and part not in card.title, name
            assert "\x1b" not in screen and "\x9b" not in screen and "\u202e" not in screen
    finally:
        await sim.close()
