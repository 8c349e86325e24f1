"""bench/estimates.py --smoke runs end to end on the test server, so it cannot rot."""

from __future__ import annotations

import re

from bench.estimates import main
from caterking_server.embedded_pg import EmbeddedPostgres
from tests.stack import cloned_database


def mae(lines: list[str], block: str, estimator: str) -> float:
    start = next(i for i, line in enumerate(lines) if line.startswith(block))
    row = next(line for line in lines[start:] if line.strip().startswith(estimator))
    found = re.search(r"\s([\d.]+)\s", row[len(estimator) + 2 :])
    assert found, row
    return float(found.group(1))


def test_smoke_run_prints_every_figure(pg_server: EmbeddedPostgres) -> None:
    with cloned_database(pg_server, "bench") as url:
        lines = main(["--smoke", "--db-url", url])
    text = "\n".join(lines)
    for needle in (
        "machine:",
        "days 2-2, every claim",
        "day 1 (cold start)",
        "held-out titles",
        "complete, learning on",
        "complete in the server, learning off",
        "estimate_for, never-seen title",
        "learning adds (in the server)",
    ):
        assert needle in text, needle
    # Seeded: the learned estimates beat the station median even after one day.
    assert mae(lines, "days 2-2", "learned (estimate_for)") < mae(
        lines, "days 2-2", "station median"
    )
