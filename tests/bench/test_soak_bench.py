"""bench/soak.py --smoke: an accelerated kitchen, two boards, a link cut and two server
restarts in seconds; nothing lost or doubled, every board converged, nothing grew. The
figures of a long run are in docs/benchmarks.md."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from caterking_server.embedded_pg import EmbeddedPostgres
from tests.stack import cloned_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_soak_smoke(pg_server: EmbeddedPostgres) -> None:
    with cloned_database(pg_server, "soak") as url:
        t0 = time.monotonic()
        done = subprocess.run(
            [sys.executable, "bench/soak.py", "--smoke", "--db-url", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=200,
        )
        elapsed = time.monotonic() - t0
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "soak: PASS" in out
    assert "2 boards live; change feed: broadcast" in out
    assert "lost 0, doubled 0, outboxes drained: True, boards converged: True" in out
    assert out.count("server restarted") == 2 and "link cut #1" in out
    m = re.search(r"boards enqueued (\d+) actions; ledger holds (\d+)", out)
    assert m and int(m.group(1)) == int(m.group(2)) > 0
    print(f"soak smoke: {elapsed:.1f} s")
