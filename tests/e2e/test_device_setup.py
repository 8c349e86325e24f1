"""Setting up a display: each check against the real local stack, as the setup screen
runs them while someone types (server, sign-in, kitchen, live updates, station)."""

from __future__ import annotations

import os
import stat
import tomllib
import uuid
from dataclasses import replace
from pathlib import Path

import httpx

from caterking_display.config import load
from caterking_display.device_setup import SetupDraft, Step, check_draft, save
from caterking_server.stack import LocalStack
from tests.faultproxy import free_port
from tests.pg import Kitchen, add_task, connect
from tests.stack import create_display


def outcome(results: list) -> dict[Step, tuple[bool | None, str]]:  # type: ignore[type-arg]
    return {r.step: (r.ok, r.code) for r in results}


async def test_a_good_setup_passes_every_check(stack: LocalStack, kitchen: Kitchen) -> None:
    with connect(stack.db_dsn) as conn:
        add_task(conn, kitchen, title="Dice onions", station="Veg")
    dev = create_display(stack.url, stack.service_role_key, kitchen)
    draft = SetupDraft(stack.url, stack.anon_key, dev.email, dev.password, "veg")
    results = await check_draft(draft)
    assert outcome(results) == {
        Step.SERVER: (True, ""),
        Step.SIGN_IN: (True, ""),
        Step.KITCHEN: (True, ""),
        Step.REALTIME: (True, ""),
        Step.STATION: (True, ""),
    }
    assert next(r for r in results if r.step is Step.KITCHEN).detail == "Main"


async def test_each_mistake_is_named_and_stops_the_checks_after_it(
    stack: LocalStack, kitchen: Kitchen
) -> None:
    dev = create_display(stack.url, stack.service_role_key, kitchen)
    good = SetupDraft(stack.url, stack.anon_key, dev.email, dev.password)
    bad_url = outcome(await check_draft(SetupDraft("192.168.1.20", "k", "a@b", "pw")))
    assert bad_url[Step.SERVER] == (False, "bad_url") and bad_url[Step.SIGN_IN][0] is None
    dead = f"http://127.0.0.1:{free_port()}"
    assert outcome(await check_draft(SetupDraft(dead, "k", "a@b", "pw")))[Step.SERVER] == (
        False,
        "unreachable",
    )
    typed_so_far = outcome(await check_draft(SetupDraft(stack.url, stack.anon_key)))
    assert typed_so_far[Step.SERVER] == (True, "")
    assert typed_so_far[Step.SIGN_IN] == (None, "missing")
    wrong = outcome(await check_draft(replace(good, password="nope")))
    assert wrong[Step.SIGN_IN] == (False, "invalid_credentials")
    assert wrong[Step.KITCHEN][0] is None
    station = outcome(await check_draft(replace(good, station="Fryer")))
    assert station[Step.STATION] == (False, "unknown_station")
    assert station[Step.REALTIME] == (True, "")  # a station is only a warning


async def test_an_account_without_a_kitchen_is_named(stack: LocalStack) -> None:
    email, password = f"nokitchen-{uuid.uuid4().hex[:6]}@test.local", uuid.uuid4().hex
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{stack.url}/auth/v1/admin/users",
            headers={
                "apikey": stack.service_role_key,
                "Authorization": f"Bearer {stack.service_role_key}",
            },
            json={"email": email, "password": password, "email_confirm": True},
            timeout=10,
        )
    assert r.status_code in (200, 201), r.text
    results = outcome(await check_draft(SetupDraft(stack.url, stack.anon_key, email, password)))
    assert results[Step.SIGN_IN] == (True, "")
    assert results[Step.KITCHEN] == (False, "no_kitchen")


def test_saving_writes_an_owner_only_file_that_keeps_other_settings(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "config.toml"
    path.parent.mkdir()
    path.write_text('[display]\nkiosk = true\ntheme = "high-contrast"\n[keys]\nclaim = "c,f1"\n')
    draft = SetupDraft("http://10.0.0.5:54321/", "anon-key", "pass@k.example", 'p"w\\d', "Grill")
    save(draft, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = tomllib.loads(path.read_text())
    assert data["display"] == {"kiosk": True, "theme": "high-contrast", "station": "Grill"}
    assert data["keys"] == {"claim": "c,f1"}
    cfg = load(path, env={})
    assert (cfg.url, cfg.anon_key, cfg.email, cfg.password) == (
        "http://10.0.0.5:54321",
        "anon-key",
        "pass@k.example",
        'p"w\\d',
    )
    assert cfg.kiosk and cfg.station == "Grill" and cfg.keymap == {"claim": "c,f1"}
