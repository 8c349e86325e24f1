"""A kitchen display installs the board from wheels alone: no compiler, no headers, on
32- and 64-bit Raspberry Pi OS (tools/check_wheels.py asks PyPI; a few seconds)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_board_and_tablet_locks_install_from_wheels_on_a_pi() -> None:
    res = subprocess.run(
        [sys.executable, "tools/check_wheels.py", "requirements.lock", "requirements-web.lock"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if res.returncode == 3:
        pytest.skip(f"PyPI unreachable: {res.stderr.strip()}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("wheels only") == 8, res.stdout
