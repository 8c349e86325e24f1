"""`caterking-server serve` as a real subprocess: env output, lock, signals, restart."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from supabase import create_client

from caterking_server.embedded_pg import EmbeddedPostgres, free_port
from tests.server.helpers import options

READY = "# env written to"


class Serve:
    def __init__(self, data_dir: Path, port: int, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "caterking_server.cli",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        threading.Thread(target=lambda: [self.lines.put(x) for x in stdout], daemon=True).start()

    def wait_ready(self, timeout: float = 60) -> dict[str, str]:
        env: dict[str, str] = {}
        self.printed: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read() if self.proc.stderr else ""
                    raise AssertionError(f"serve exited {self.proc.returncode}: {err}") from None
                continue
            self.printed.append(line)
            if line.startswith(READY):
                return env
            key, sep, value = line.strip().partition("=")
            if sep:
                env[key] = value
        raise AssertionError("serve did not become ready in time")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def read_env(data_dir: Path) -> dict[str, str]:
    lines = (data_dir / "stack.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def _postgres_for(data_dir: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "postgres" in cmd and str(data_dir) in cmd:
            found.append(p)
    return found


@pytest.mark.timeout(180)
def test_serve_lifecycle(tmp_path: Path) -> None:
    data_dir = tmp_path / "stack"
    port = free_port()
    first = Serve(data_dir, port, "--seed", "demo", "--jwt-expiry", "600", "--name", "Pass 1")
    try:
        printed = first.wait_ready()
        url = f"http://127.0.0.1:{port}"
        assert printed["SUPABASE_URL"] == url
        assert printed["DEMO_DISPLAY_EMAIL"] == "display@demo.caterking.local"
        # Secrets are in stack.env (0600), never on stdout (a journal, a shared log).
        env = read_env(data_dir)
        password = env["DEMO_DISPLAY_PASSWORD"]
        assert env["SUPABASE_URL"] == url
        assert env["SUPABASE_ANON_KEY"] == printed["SUPABASE_ANON_KEY"]
        assert env["SUPABASE_SERVICE_ROLE_KEY"] and password
        assert env["CATERKING_DB_URL"].startswith("postgresql://postgres:")
        out = "".join(first.printed)
        secret = json.loads((data_dir / "stack.json").read_text())["jwt_secret"]
        for value in (env["SUPABASE_SERVICE_ROLE_KEY"], password, secret, env["CATERKING_DB_URL"]):
            assert value not in out
        assert set(printed) == {"SUPABASE_URL", "SUPABASE_ANON_KEY", "DEMO_DISPLAY_EMAIL"}
        # What a display's setup finds when it scans the LAN: public, nothing secret.
        r = httpx.get(f"{url}/kitchen/v1/setup")
        assert r.status_code == 200
        assert r.json() == {"url": url, "anon_key": printed["SUPABASE_ANON_KEY"], "name": "Pass 1"}
        for value in (env["SUPABASE_SERVICE_ROLE_KEY"], password, secret, env["CATERKING_DB_URL"]):
            assert value not in r.text
        assert str(data_dir / "stack.env") in out
        for name in ("stack.env", "stack.json", "stack.lock"):
            assert (data_dir / name).stat().st_mode & 0o077 == 0, name
        # The embedded Postgres runs as another user when the stack runs as root: it may
        # traverse the data dir, nobody may list or read it.
        assert data_dir.stat().st_mode & 0o777 == (0o711 if os.geteuid() == 0 else 0o700)

        c = create_client(url, env["SUPABASE_ANON_KEY"], options())
        s = c.auth.sign_in_with_password({"email": env["DEMO_DISPLAY_EMAIL"], "password": password})
        assert s.session is not None and s.user is not None
        assert s.session.expires_in == 600
        assert s.user.app_metadata["device_kind"] == "display"
        token = s.session.access_token
        tasks = c.table("tasks").select("id,title,station,status,priority").execute().data
        assert len(tasks) >= 25
        assert {t["status"] for t in tasks} >= {"pending", "claimed", "done"}
        assert any(t["priority"] == 2 for t in tasks)
        staff = c.table("staff").select("display_name").execute().data
        assert len(staff) == 6

        # A second serve on the same data dir refuses and says why.
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "caterking_server.cli",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(free_port()),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert f"data dir {data_dir} is in use by another caterking-server serve" in second.stderr
        assert f"(pid {first.proc.pid})" in second.stderr

        assert first.stop() == 0
        assert EmbeddedPostgres(data_dir / "pg").running_pid() is None
        assert _postgres_for(data_dir) == []
        stderr = first.proc.stderr.read() if first.proc.stderr else ""
        assert password not in stderr and env["SUPABASE_SERVICE_ROLE_KEY"] not in stderr
    finally:
        if first.proc.poll() is None:
            first.proc.kill()

    # Restart: same keys, same data, demo not duplicated, old token still valid.
    port2 = free_port()
    again = Serve(data_dir, port2, "--seed", "demo")
    try:
        again.wait_ready()
        env2 = read_env(data_dir)
        assert env2["SUPABASE_ANON_KEY"] == env["SUPABASE_ANON_KEY"]
        assert env2["SUPABASE_SERVICE_ROLE_KEY"] == env["SUPABASE_SERVICE_ROLE_KEY"]
        assert env2["DEMO_DISPLAY_PASSWORD"] == password
        url2 = f"http://127.0.0.1:{port2}"
        r = httpx.get(
            f"{url2}/rest/v1/tasks?select=id",
            headers={"apikey": env["SUPABASE_ANON_KEY"], "Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200 and len(r.json()) == len(tasks)
        r = httpx.get(
            f"{url2}/auth/v1/user",
            headers={"apikey": env["SUPABASE_ANON_KEY"], "Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200 and r.json()["email"] == env["DEMO_DISPLAY_EMAIL"]
        # A crash (SIGKILL) leaves Postgres behind; the next serve recovers.
        again.stop(signal.SIGKILL)
    finally:
        if again.proc.poll() is None:
            again.proc.kill()
    third = Serve(data_dir, free_port())
    try:
        third.wait_ready()
        assert third.stop(signal.SIGINT) == 0
        assert _postgres_for(data_dir) == []
    finally:
        if third.proc.poll() is None:
            third.proc.kill()
            EmbeddedPostgres(data_dir / "pg").stop()
