"""`caterking-display demo [--attach]`: the embedded default (DESIGN.md §7).

Starts (or reuses) the local stack with the demo seed in the user data dir, starts the
kitchen simulator, and opens the board signed in as the demo display. `--attach`
opens another board on the stack that is already running. Whatever this command
started, it stops when the board closes.
"""

from __future__ import annotations

import argparse
import asyncio
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
    `caterking-display serve --seed demo` (or `make serve`) is the one the demo reuses."""
    if arg is not None:
        return arg.expanduser() / "stack"
    from caterking_display.localstack.serve import default_data_dir

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


def demo_password(stack_dir: Path) -> str | None:
    try:
        state = json.loads((stack_dir / "stack.json").read_text())
    except (OSError, ValueError):
        return None
    pw = state.get("demo_display_password")
    return pw if isinstance(pw, str) and pw else None


def demo_dirs(arg: Path | None) -> tuple[Path, Path]:
    """(boards' root, stack data dir), both created: they need not be side by side."""
    root, stack_dir = demo_root(arg), demo_stack_dir(arg)
    root.mkdir(parents=True, exist_ok=True)
    stack_dir.mkdir(parents=True, exist_ok=True)
    return root, stack_dir


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "caterking_display.cli", *args]


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
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        fh = stack.enter_context(open(d / "board.lock", "w"))
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue
        return d, f"demo-{name}"
    raise DemoError("this demo board is already open in another terminal")


def main(args: argparse.Namespace) -> int:
    root, stack_dir = demo_dirs(args.data_dir)
    started: list[subprocess.Popen[bytes]] = []
    with ExitStack() as cleanup:
        try:
            env = stack_env_if_up(stack_dir)
            if env is None:
                if args.attach:
                    raise DemoError(
                        "no demo is running: start `caterking-display demo` in another "
                        "terminal first"
                    )
                stack_dir.mkdir(parents=True, exist_ok=True)
                log = cleanup.enter_context(open(stack_dir / "serve.log", "a"))
                proc = start_stack(stack_dir, args.port, log)
                started.append(proc)
                env = wait_for_stack(stack_dir, proc, timeout=180)
            password = demo_password(stack_dir)
            if not password:
                raise DemoError(
                    f"the stack running on {stack_dir} has no demo account: restart it "
                    "with `caterking-display serve --seed demo`"
                )
            if not args.attach and not args.no_simulator:
                sim_log = cleanup.enter_context(open(root / "simulate.log", "a"))
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
                    )
                )
            data_dir, device = board_dir(root, args.attach, cleanup)
            cfg = Config(
                url=env["SUPABASE_URL"],
                anon_key=env["SUPABASE_ANON_KEY"],
                email=DEMO_EMAIL,
                password=password,
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
        finally:
            # Stop what we started, newest first: the simulator, then the stack.
            for proc in reversed(started):
                stop(proc)
            if started and os.isatty(1):
                print("Demo stopped.")
    return 0
