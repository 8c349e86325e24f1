"""`caterking-display doctor` against the real local stack: a checklist with fixes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from caterking_display.cli import main
from caterking_server.embedded_pg import EmbeddedPostgres, free_port
from caterking_server.ratelimit import AuthLimits
from caterking_server.stack import LocalStack
from tests.pg import Kitchen, add_task, connect, seed_kitchen
from tests.stack import StackThread, cloned_database, create_display


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


@pytest.fixture
def stack_without_broadcasts(
    pg_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """A stack whose database has no feed_probe: a project not yet migrated to 0007."""
    with cloned_database(pg_server, "nofeed") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("drop function public.feed_probe(text)")
        with StackThread(
            LocalStack(
                tmp_path_factory.mktemp("nofeed"), db_url=url, auth_limits=AuthLimits.unlimited()
            )
        ) as s:
            yield s


def test_the_feed_doctor_reports(
    stack: LocalStack,
    stack_without_broadcasts: LocalStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def doctor(s: LocalStack, feed: str) -> tuple[int, str]:
        with connect(s.db_dsn) as conn:
            k = seed_kitchen(conn)
        dev = create_display(s.url, s.service_role_key, k)
        env(monkeypatch, s.url, s.anon_key, dev.email, dev.password)
        monkeypatch.setenv("CATERKING_FEED", feed)
        code = main(["doctor", "--data-dir", str(tmp_path / f"{feed}-{id(s)}")])
        return code, capsys.readouterr().out

    code, out = doctor(stack, "auto")
    assert code == 0 and "✓ realtime    live; changes arrive as broadcasts from the database" in out
    code, out = doctor(stack, "postgres_changes")
    assert code == 0 and "✓ realtime    live; changes arrive by postgres_changes" in out
    # Without 0007: auto falls back and says why; a forced broadcast feed is a problem.
    code, out = doctor(stack_without_broadcasts, "auto")
    assert code == 0 and "live; changes arrive by postgres_changes" in out
    assert "does not deliver database broadcasts" in out
    code, out = doctor(stack_without_broadcasts, "broadcast")
    assert code == 1
    assert "✗ realtime" in out and "database broadcasts are not delivered" in out


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
