"""`caterking-server demo [--attach]`: the embedded default (docs/kitchen-server.md).

Starts (or reuses) the local stack with the demo seed in the user data dir, starts the
kitchen simulator, and opens the board signed in as the demo display. `--attach`
opens another board on the stack that is already running. Whatever this command
started, it stops when the board closes, and on SIGTERM, SIGHUP (the terminal closed)
or SIGINT; if this process is killed outright, the kernel tells its children to stop.
Logs and data are this user's only (files 0600, directories 0700).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import httpx
import platformdirs

from caterking_display.app_main import run_board, setup_logging
from caterking_display.config import APP_NAME, Config, read_env_file

DEMO_EMAIL = "display@demo.caterking.local"
DEFAULT_PORT = 54321


class DemoError(RuntimeError):
    pass


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--attach", action="store_true", help="open another board on the running demo")
    p.add_argument("--data-dir", type=Path, help="demo data dir (default: user data dir)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="stack port (default 54321)")
    p.add_argument("--rate", type=float, default=12.0, help="simulated events per minute")
    p.add_argument("--no-simulator", action="store_true", help="a quiet kitchen: no simulator")
    p.add_argument("--theme", choices=["dark", "high-contrast"], default="dark")


def demo_root(arg: Path | None) -> Path:
    return (arg or Path(platformdirs.user_data_dir(APP_NAME)) / "demo").expanduser()


def demo_stack_dir(arg: Path | None) -> Path:
    """The stack's data dir: `serve`'s default, so a stack started with
    `caterking-server serve --seed demo` (or `make serve`) is the one the demo reuses."""
    if arg is not None:
        return arg.expanduser() / "stack"
    from caterking_server.serve import default_data_dir

    return default_data_dir()


def stack_env_if_up(stack_dir: Path) -> dict[str, str] | None:
    """The stack's env if a stack on this dir answers; None otherwise."""
    env_file = stack_dir / "stack.env"
    if not env_file.exists():
        return None
    env = read_env_file(env_file)
    url, key = env.get("SUPABASE_URL"), env.get("SUPABASE_ANON_KEY")
    if not url or not key:
        return None
    try:
        r = httpx.get(f"{url}/auth/v1/health", headers={"apikey": key}, timeout=1.5)
    except httpx.HTTPError:
        return None
    return env if r.status_code == 200 else None


def _stack_state(stack_dir: Path) -> dict[str, object]:
    try:
        state = json.loads((stack_dir / "stack.json").read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def demo_password(stack_dir: Path) -> str | None:
    pw = _stack_state(stack_dir).get("demo_display_password")
    return pw if isinstance(pw, str) and pw else None


def board_account(stack_dir: Path, device: str) -> tuple[str, str] | None:
    """(email, password) of the demo account for the board called `device`: each attach
    board has its own (whose device_name is the board's name, so the board recognises
    its own claims); the main board, or an attach board beyond those seeded, uses the
    main demo display."""
    from caterking_server.demo_seed import (
        DEMO_ATTACH_BOARDS,
        attach_account,
        remembered_password,
    )

    state = _stack_state(stack_dir)
    for n in range(1, DEMO_ATTACH_BOARDS + 1):
        email, name = attach_account(n)
        if name == device:
            pw = remembered_password(state, email)
            if pw:
                return email, pw
    pw = demo_password(stack_dir)
    return (DEMO_EMAIL, pw) if pw else None


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def private_log(path: Path) -> IO[str]:
    """A log file for appending, readable by this user only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "a")


def demo_dirs(arg: Path | None) -> tuple[Path, Path]:
    """(boards' root, stack data dir), both created: they need not be side by side."""
    root, stack_dir = demo_root(arg), demo_stack_dir(arg)
    private_dir(root)
    stack_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root, stack_dir


def _tighten_root(root: Path, stack_dir: Path) -> None:
    """Starting the embedded Postgres as another user (the demo run as root) opens every
    directory above its data for traversal: keep the boards' root at traverse-only."""
    from caterking_server.embedded_pg import runs_as_other_user

    inside = root in stack_dir.parents
    os.chmod(root, 0o711 if inside and runs_as_other_user() else 0o700)


def _die_with_parent() -> None:
    """In a child, before exec: SIGTERM when the demo process dies, however it dies
    (Linux), so a demo killed outright leaves no stack or simulator behind."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "caterking_server.cli", *args]


def start_stack(stack_dir: Path, port: int, log: IO[str]) -> subprocess.Popen[bytes]:
    stack_dir.mkdir(parents=True, exist_ok=True)
    if not port_free(port):
        port = 0  # somebody else has 54321: let the stack pick a free port
    print(f"Starting the local stack in {stack_dir} …", flush=True)
    return subprocess.Popen(
        _cli("serve", "--data-dir", str(stack_dir), "--port", str(port), "--seed", "demo"),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # our own Ctrl+C handling stops it, in order
        preexec_fn=_die_with_parent,
    )


def wait_for_stack(
    stack_dir: Path, proc: subprocess.Popen[bytes], timeout: float
) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(
                f"the local stack exited (code {proc.returncode}); see {stack_dir / 'serve.log'}"
            )
        env = stack_env_if_up(stack_dir)
        if env and demo_password(stack_dir):
            return env
        time.sleep(0.2)
    raise DemoError(f"the local stack did not come up in {timeout:.0f} s; see serve.log")


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 30) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def board_dir(root: Path, attach: bool, stack: ExitStack) -> tuple[Path, str]:
    """A board data dir no other running board uses (each board has its own store)."""
    names = ["board"] if not attach else [f"attach-{i}" for i in range(1, 50)]
    for name in names:
        d = private_dir(root / name)
        fh = stack.enter_context(open(d / "board.lock", "w"))
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue
        return d, f"demo-{name}"
    raise DemoError("this demo board is already open in another terminal")


class Stopped(Exception):
    """A signal asked the demo to end (SIGTERM, SIGHUP)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _stop_on_signal(signum: int, _frame: object) -> None:
    raise Stopped(signum)


def main(args: argparse.Namespace) -> int:
    # Until the board runs (it handles these itself), a signal unwinds to the cleanup.
    previous = {sig: signal.signal(sig, _stop_on_signal) for sig in STOP_SIGNALS}
    previous[signal.SIGINT] = signal.getsignal(signal.SIGINT)
    try:
        return _main(args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _main(args: argparse.Namespace) -> int:
    root, stack_dir = demo_dirs(args.data_dir)
    started: list[subprocess.Popen[bytes]] = []
    with ExitStack() as cleanup:
        try:
            env = stack_env_if_up(stack_dir)
            if env is None:
                if args.attach:
                    raise DemoError(
                        "no demo is running: start `caterking-server demo` in another "
                        "terminal first"
                    )
                log = cleanup.enter_context(private_log(stack_dir / "serve.log"))
                proc = start_stack(stack_dir, args.port, log)
                started.append(proc)
                env = wait_for_stack(stack_dir, proc, timeout=180)
                _tighten_root(root, stack_dir)
            if not demo_password(stack_dir):
                raise DemoError(
                    f"the stack running on {stack_dir} has no demo account: restart it "
                    "with `caterking-server serve --seed demo`"
                )
            if not args.attach and not args.no_simulator:
                sim_log = cleanup.enter_context(private_log(root / "simulate.log"))
                started.append(
                    subprocess.Popen(
                        _cli(
                            "simulate",
                            "--stack-env",
                            str(stack_dir / "stack.env"),
                            "--rate",
                            str(args.rate),
                        ),
                        stdout=sim_log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                        preexec_fn=_die_with_parent,
                    )
                )
            data_dir, device = board_dir(root, args.attach, cleanup)
            account = board_account(stack_dir, device)
            assert account is not None  # the main password was checked above
            cfg = Config(
                url=env["SUPABASE_URL"],
                anon_key=env["SUPABASE_ANON_KEY"],
                email=account[0],
                password=account[1],
                kitchen_id=None,
                data_dir=data_dir,
                device_name=device,
                theme=args.theme,
            )
            setup_logging(data_dir)
            return asyncio.run(run_board(cfg))
        except DemoError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130
        except Stopped as exc:
            return 128 + exc.signum
        finally:
            # Stop what we started, newest first: the simulator, then the stack. Another
            # signal now must not cut this short (that is what left stacks behind).
            for sig in (*STOP_SIGNALS, signal.SIGINT):
                signal.signal(sig, signal.SIG_IGN)
            for proc in reversed(started):
                stop(proc)
            if started and os.isatty(1):
                with contextlib.suppress(OSError):
                    print("Demo stopped.")
    return 0
