"""Every benchmark runs end to end in its smoke mode, so none can rot unnoticed (the
figures themselves are measured by the benches, on purpose, not here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from caterking_server.embedded_pg import EmbeddedPostgres
from tests.stack import cloned_database

ROOT = Path(__file__).resolve().parents[2]

# bench script → extra arguments, and lines its output must contain.
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "stack_latency.py": ([], ["clients", "recv/exp"]),
    "e2e_latency.py": ([], ["store-to-store, 2 clients", "recovery after", "client RSS"]),
    "render.py": ([], ["first paint, 1,000 tasks", "idle CPU over 1 s"]),
    "rls_check.py": ([], ["checks: 50", "round trip per check"]),
    "fuzz.py": ([], ["realtime"]),
    "estimates_live.py": ([], ["completion on A → estimate on B"]),
}
NEEDS_DB = {"stack_latency.py", "e2e_latency.py", "rls_check.py", "fuzz.py"}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("script", sorted(BENCHES))
def test_bench_smoke(script: str, pg_server: EmbeddedPostgres) -> None:
    args, expected = BENCHES[script]
    cmd = [sys.executable, f"bench/{script}", "--smoke", *args]

    def run(extra: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cmd, *extra], cwd=ROOT, capture_output=True, text=True, timeout=200, check=False
        )

    if script in NEEDS_DB:
        with cloned_database(pg_server, "bench") as url:
            done = run(["--db-url", url])
    else:
        done = run([])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for line in expected:
        assert line in done.stdout, (line, done.stdout[-2000:])


@pytest.mark.timeout(240)
@pytest.mark.xdist_group("browser")
@pytest.mark.skipif(
    not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()),
    reason="bench/tablet.py not run: no chromium",
)
def test_tablet_bench_smoke() -> None:
    done = subprocess.run(
        [sys.executable, "bench/tablet.py", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "per tab on the host: PSS" in done.stdout and "tap → change" in done.stdout
