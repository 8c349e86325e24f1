"""`caterking-display web`'s guards, without a browser: it listens on 127.0.0.1 unless
told otherwise, refuses a LAN address without `--lan`, caps the open tabs, and the old
server commands say where they moved."""

from __future__ import annotations

import argparse
from pathlib import Path

import aiohttp
import psutil
import pytest
from aiohttp.test_utils import TestClient, TestServer

from caterking_display import web
from caterking_display.cli import main
from tests.waiting import until


def sessions_running() -> list[psutil.Process]:
    """This process's board sessions (other tests may have children of their own)."""
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "--web-session" in child.cmdline():
                out.append(child)
        except psutil.Error:  # gone meanwhile
            pass
    return out


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    web.add_arguments(p)
    return p.parse_args(list(argv))


def test_it_listens_on_loopback_unless_told_otherwise() -> None:
    args = parse()
    assert args.host == "127.0.0.1" and not args.lan


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "kitchen-pi.local", "::"])
def test_a_lan_address_needs_lan(
    host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in ("SUPABASE_URL", "SUPABASE_ANON_KEY"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "none.toml"
    assert main(["web", "--config", str(config), "--host", host]) == 2
    assert f"--host {host} serves the board beyond this machine; add --lan" in (
        capsys.readouterr().err
    )
    # With --lan it gets past that check (and stops at the missing server settings).
    assert main(["web", "--config", str(config), "--host", host, "--lan"]) == 2
    err = capsys.readouterr().err
    assert "add --lan" not in err and "server.url: missing" in err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_needs_no_flag(
    host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in ("SUPABASE_URL", "SUPABASE_ANON_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert main(["web", "--config", str(tmp_path / "none.toml"), "--host", host]) == 2
    err = capsys.readouterr().err
    assert "add --lan" not in err and "server.url: missing" in err


async def test_tabs_beyond_max_sessions_are_refused(tmp_path: Path) -> None:
    """The real textual-serve app: with --max-sessions 1, a second tab gets 503 while the
    first is open, and a tab can open again once the first has closed."""
    args = parse("--max-sessions", "1", "--data-dir", str(tmp_path), "--port", "0")
    server = web.make_server(args)
    client = TestClient(TestServer(await server._make_app()))
    await client.start_server()
    try:
        page = await client.get("/")
        assert page.status == 200 and 'data-font-size="20"' in (await page.text())
        first = await client.ws_connect("/ws?width=80&height=24")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/ws?width=80&height=24")
        assert refused.value.status == 503
        await first.close()
        # Its slot is free once its board process has stopped; then a tab opens again.
        await until(lambda: server.sessions == 0, 20)
        again = await client.ws_connect("/ws?width=80&height=24")
        await again.close()
        await until(lambda: server.sessions == 0, 20)
        # And its board process is gone (reaped by this loop, not left to a closed one).
        await until(lambda: not sessions_running(), 20)
    finally:
        await client.close()


@pytest.mark.parametrize("command", ["serve", "demo", "simulate", "migrate", "estimates"])
def test_server_commands_say_where_they_moved(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--seed", "demo"]) == 2
    err = capsys.readouterr().err
    assert f"`{command}` is part of the kitchen server" in err
    assert f"`caterking-server {command} --seed demo`" in err
