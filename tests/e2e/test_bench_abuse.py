"""bench/abuse.py --smoke: the abuse bench runs end to end in seconds and the server
holds its limits (the figures themselves are measured by the bench, not here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from caterking_server.embedded_pg import EmbeddedPostgres
from tests.stack import cloned_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_abuse_bench_smoke(pg_server: EmbeddedPostgres) -> None:
    with cloned_database(pg_server, "abuse") as url:
        done = subprocess.run(
            [sys.executable, "bench/abuse.py", "--smoke", "--db-url", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=200,
        )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    for case in ("flood", "teardown", "slow", "device", "signin"):
        assert f"== {case}" in out
    assert "flood joins: replies {'error': 2}" in out  # refused, not subscribed
    assert "{413: 4}" in out  # 2 MiB REST broadcasts
    m = re.search(r"claimed_device stored: \[(\d+)\] chars", out)
    assert m and int(m.group(1)) <= 64
    assert "429" in out.split("== signin", 1)[1]
    assert "tracebacks in the server log: 0" in out
