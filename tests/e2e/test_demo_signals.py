"""`caterking-server demo` in a real terminal (a pty) as a subprocess: however it ends —
SIGTERM, SIGINT, or its terminal closing — it stops the stack it started and leaves no
process behind (issue 10, item 11). Its files are this user's only (item 6)."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import psutil
import pytest

from caterking_server import demo
from caterking_server.embedded_pg import free_port
from tests.waiting import until_blocking

ROOT = Path(__file__).resolve().parents[2]


def _make_controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class DemoInPty:
    def __init__(self, data_dir: Path) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 160, 0, 0))
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "caterking_server.cli",
                "demo",
                "--data-dir",
                str(data_dir),
                "--port",
                str(free_port()),
                "--no-simulator",
            ],
            cwd=ROOT,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,  # its own session, with the pty as its terminal
            preexec_fn=_make_controlling_tty,
            env={**os.environ, "TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none"},
        )
        os.close(slave)
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def hang_up(self) -> None:
        os.close(self.master)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        try:
            os.close(self.master)
        except OSError:
            pass


def tails(d: DemoInPty, stack_dir: Path, board: Path) -> str:
    """What a hung demo had shown and logged: the end of its screen, board and server logs."""
    out = [f"screen: {bytes(d.output[-1500:])!r}"]
    for log in (board / "display.log", stack_dir / "serve.log"):
        text = log.read_text(errors="replace") if log.exists() else "(none)"
        out.append(f"{log.name}:\n" + "\n".join(text.splitlines()[-25:]))
    return "\n".join(out)


def leftovers(stack_dir: Path) -> list[str]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if str(stack_dir) in cmd:
            found.append(cmd)
    return found


@pytest.mark.timeout(300)
def test_demo_cleans_up_on_every_signal_that_ends_it(tmp_path: Path) -> None:
    stack_dir = demo.demo_stack_dir(tmp_path)
    board = tmp_path / "board"
    for how in ("SIGTERM", "hang-up", "SIGINT"):
        d = DemoInPty(tmp_path)
        try:
            until_blocking(
                lambda: demo.stack_env_if_up(stack_dir) is not None, 120, what=f"{how}: the stack"
            )
            until_blocking(
                lambda d=d: b"Main Kitchen" in d.output, 60, what=f"{how}: the board on screen"
            )
            assert leftovers(stack_dir), "serve runs"
            if how == "hang-up":
                d.hang_up()  # the terminal goes away: the kernel sends SIGHUP
            else:
                d.proc.send_signal(getattr(signal, how))
            try:
                d.proc.wait(90)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{how}: the demo did not exit in 90 s\n{tails(d, stack_dir, board)}")
            until_blocking(
                lambda: not leftovers(stack_dir), 30, what=f"{how}: serve and Postgres to stop"
            )
            assert demo.stack_env_if_up(stack_dir) is None
        finally:
            d.close()
    # Data and logs are private.
    for f in (stack_dir / "serve.log", board / "display.log", board / "board.sqlite3"):
        assert f.stat().st_mode & 0o077 == 0, f
    assert board.stat().st_mode & 0o777 == 0o700
    # The boards' root holds the stack's data dir here: when Postgres runs as another
    # user (as root), it may traverse it, not list it.
    assert tmp_path.stat().st_mode & 0o777 == (0o711 if os.geteuid() == 0 else 0o700)
    log = (stack_dir / "serve.log").read_text()
    env = (stack_dir / "stack.env").read_text()
    for line in env.splitlines():
        key, _, value = line.partition("=")
        if key in ("SUPABASE_SERVICE_ROLE_KEY", "DEMO_DISPLAY_PASSWORD", "CATERKING_DB_URL"):
            assert value not in log, key
