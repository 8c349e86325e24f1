"""`caterking-display doctor` against the real local stack: a checklist with fixes."""

from __future__ import annotations

from pathlib import Path

import pytest

from caterking_display.cli import main
from caterking_server.embedded_pg import free_port
from caterking_server.stack import LocalStack
from tests.pg import Kitchen, add_task, connect
from tests.stack import create_display


def env(monkeypatch: pytest.MonkeyPatch, url: str, key: str, email: str, pw: str) -> None:
    monkeypatch.setenv("SUPABASE_URL", url)
    monkeypatch.setenv("SUPABASE_ANON_KEY", key)
    monkeypatch.setenv("CATERKING_DEVICE_EMAIL", email)
    monkeypatch.setenv("CATERKING_DEVICE_PASSWORD", pw)
    monkeypatch.delenv("CATERKING_STATION", raising=False)
    monkeypatch.delenv("CATERKING_KITCHEN_ID", raising=False)


def test_all_good(
    stack: LocalStack,
    kitchen: Kitchen,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with connect(stack.db_dsn) as conn:
        add_task(conn, kitchen, station="Grill")
    dev = create_display(stack.url, stack.service_role_key, kitchen)
    env(monkeypatch, stack.url, stack.anon_key, dev.email, dev.password)
    assert main(["doctor", "--data-dir", str(tmp_path), "--station", "grill"]) == 0
    out = capsys.readouterr().out
    for line in ("✓ server", "✓ sign-in", "✓ board", "✓ local store", "✓ data dir"):
        assert line in out
    # The join is real: the board's own engine, and the feed it would use.
    assert "✓ realtime    live; changes arrive" in out
    assert "All good" in out


def test_a_forced_feed_the_server_lacks_is_a_problem(
    stack: LocalStack,
    kitchen: Kitchen,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dev = create_display(stack.url, stack.service_role_key, kitchen)
    env(monkeypatch, stack.url, stack.anon_key, dev.email, dev.password)
    monkeypatch.setenv("CATERKING_FEED", "broadcast")
    if "feed_probe" in _functions(stack):
        pytest.skip("this stack delivers database broadcasts")
    assert main(["doctor", "--data-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "✗ realtime" in out and "database broadcasts are not delivered" in out


def _functions(stack: LocalStack) -> set[str]:
    with connect(stack.db_dsn) as conn:
        rows = conn.execute("select proname from pg_proc").fetchall()
    return {r["proname"] for r in rows}


def test_wrong_password_and_unknown_station_say_what_to_fix(
    stack: LocalStack,
    kitchen: Kitchen,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dev = create_display(stack.url, stack.service_role_key, kitchen)
    env(monkeypatch, stack.url, stack.anon_key, dev.email, "wrong")
    assert main(["doctor", "--data-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "✗ sign-in" in out and "email or password is wrong" in out
    env(monkeypatch, stack.url, stack.anon_key, dev.email, dev.password)
    assert main(["doctor", "--data-dir", str(tmp_path), "--station", "Fryer"]) == 1
    assert "✗ station" in capsys.readouterr().out


def test_unreachable_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env(monkeypatch, url, "anon", "d@x.y", "pw")
    assert main(["doctor", "--data-dir", str(tmp_path)]) == 1
    assert f"✗ server      cannot reach {url}" in capsys.readouterr().out
