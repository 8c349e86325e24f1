"""bench/fanout.py --smoke: both modes deliver every change end to end through `serve`
(the figures themselves are measured by the bench, docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from caterking_server.embedded_pg import EmbeddedPostgres
from tests.stack import cloned_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_fanout_smoke(pg_server: EmbeddedPostgres) -> None:
    with cloned_database(pg_server, "fanout") as url:
        done = subprocess.run(
            [sys.executable, "bench/fanout.py", "--smoke", "--db-url", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=200,
        )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    rows = {
        line.split()[0]: line.split() for line in out.splitlines() if line.split()[1:2] == ["2"]
    }
    assert set(rows) == {"postgres_changes", "broadcast"}, out
    for mode, cols in rows.items():
        assert cols[3] == "40/40", f"{mode}: {cols}"
    # The same change is smaller as a broadcast (no column list, no commit timestamp).
    assert int(rows["broadcast"][-1]) < int(rows["postgres_changes"][-1])
    assert "0007 trigger in the database" in out
