"""The demo's moving parts: start or reuse the seeded stack, pick board dirs, stop cleanly."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from pathlib import Path

import httpx
import psutil
import pytest

from caterking_server import demo
from caterking_server.cli import main


def test_attach_without_a_running_demo_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--attach", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: no demo is running: start `caterking-server demo` in another terminal first\n"
    )


def test_stack_starts_seeded_is_reused_and_stops(tmp_path: Path) -> None:
    stack_dir = demo.demo_stack_dir(tmp_path)
    assert demo.stack_env_if_up(stack_dir) is None
    with open(tmp_path / "serve.log", "w") as log:
        proc = demo.start_stack(stack_dir, 0, log)
        try:
            env = demo.wait_for_stack(stack_dir, proc, timeout=120)
            assert env["SUPABASE_URL"].startswith("http://127.0.0.1:")
            assert demo.demo_password(stack_dir)
            # A second demo finds the same stack instead of starting another.
            assert demo.stack_env_if_up(stack_dir) == env
            # The seeded board has something to show: allergens and notes.
            key = env["SUPABASE_SERVICE_ROLE_KEY"]
            r = httpx.get(
                f"{env['SUPABASE_URL']}/rest/v1/tasks",
                params={"select": "title,allergens,notes"},
                headers={"apikey": key, "Authorization": f"Bearer {key}"},
            )
            seeded = {t["title"]: t for t in r.json()}
            assert seeded["Dice onions"]["allergens"] == []
            assert seeded["Dice onions"]["notes"] == "For the Hughes wedding — no garlic"
            assert seeded["Lemon tart shells"]["allergens"] == ["gluten", "eggs", "milk"]
            assert sum(1 for t in seeded.values() if t["allergens"]) >= 10
            # Each board signs in as an account whose device_name is the board's name
            # (what its actions record); boards beyond the seeded ones share the main one.
            for board, email in (
                ("demo-board", demo.DEMO_EMAIL),
                ("demo-attach-2", "attach-2@demo.caterking.local"),
                ("demo-attach-9", demo.DEMO_EMAIL),
            ):
                account = demo.board_account(stack_dir, board)
                assert account is not None and account[0] == email
                r = httpx.post(
                    f"{env['SUPABASE_URL']}/auth/v1/token",
                    params={"grant_type": "password"},
                    headers={"apikey": env["SUPABASE_ANON_KEY"]},
                    json={"email": account[0], "password": account[1]},
                )
                meta = r.json()["user"]["app_metadata"]
                assert meta["device_name"] == (board if board != "demo-attach-9" else "demo-board")
        finally:
            demo.stop(proc)
    assert proc.returncode == 0
    leftovers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(stack_dir) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []
    assert demo.stack_env_if_up(stack_dir) is None


def test_each_board_gets_its_own_store(tmp_path: Path) -> None:
    with ExitStack() as first, ExitStack() as second:
        d1, name1 = demo.board_dir(tmp_path, False, first)
        d2, name2 = demo.board_dir(tmp_path, True, second)
        d3, name3 = demo.board_dir(tmp_path, True, second)
        assert (name1, name2, name3) == ("demo-board", "demo-attach-1", "demo-attach-2")
        assert len({d1, d2, d3}) == 3
        with pytest.raises(demo.DemoError, match="already open"), ExitStack() as third:
            demo.board_dir(tmp_path, False, third)


def test_defaults_share_the_serve_data_dir() -> None:
    from caterking_server.serve import default_data_dir

    assert demo.demo_stack_dir(None) == default_data_dir()
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    assert parser.parse_args([]).port == demo.DEFAULT_PORT


def test_default_dirs_are_created_wherever_they_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # By default the boards live under <data>/demo and the stack under serve's own
    # default (<data>/stack): neither may be assumed to exist on a fresh machine.
    from caterking_server import serve

    monkeypatch.setattr(demo.platformdirs, "user_data_dir", lambda _app: str(tmp_path / "u"))
    monkeypatch.setattr(serve, "default_data_dir", lambda: tmp_path / "u" / "stack")
    root, stack_dir = demo.demo_dirs(None)
    assert root == tmp_path / "u" / "demo" and root.is_dir()
    assert stack_dir == tmp_path / "u" / "stack" and stack_dir.is_dir()
