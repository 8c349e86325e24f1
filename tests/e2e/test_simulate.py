"""The kitchen simulator drives a real local stack through the public REST API."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from caterking_server.cli import main
from caterking_server.embedded_pg import free_port
from caterking_server.kitchen_catalogue import NOTES, NOTES_BY_TITLE, allergens_for
from caterking_server.simulate import KitchenSimulator
from caterking_server.stack import LocalStack
from tests.pg import Kitchen, connect


async def test_simulator_adds_claims_and_completes(stack: LocalStack, kitchen: Kitchen) -> None:
    sim = KitchenSimulator(
        stack.url, stack.service_role_key, kitchen.kitchen_id, rng=random.Random(7), target_open=6
    )
    try:
        k = await sim.load_kitchen()
        assert sorted(k.staff) == sorted(kitchen.staff)
        for _ in range(60):
            await sim.step()
    finally:
        await sim.close()
    assert sim.counts.get("added", 0) >= 3
    assert sim.counts.get("claim:applied", 0) >= 1
    assert sim.counts.get("complete:applied", 0) >= 1
    with connect(stack.db_dsn) as conn:
        rows = conn.execute(
            "select status, count(*) as n from tasks where kitchen_id = %s group by status",
            (kitchen.kitchen_id,),
        ).fetchall()
        ops = conn.execute(
            "select count(*) as n from task_ops o join tasks t on t.id = o.task_id "
            "where t.kitchen_id = %s",
            (kitchen.kitchen_id,),
        ).fetchone()
        added = conn.execute(
            "select title, allergens, notes from tasks where kitchen_id = %s",
            (kitchen.kitchen_id,),
        ).fetchall()
    # Each task carries its dish's allergens and a note that fits it.
    assert added and all(r["allergens"] == allergens_for(r["title"]) for r in added)
    assert all(r["notes"] == NOTES_BY_TITLE.get(r["title"], r["notes"]) for r in added)
    assert all(r["title"] in NOTES_BY_TITLE or r["notes"] in NOTES for r in added)
    by_status = {r["status"]: r["n"] for r in rows}
    assert by_status.get("done", 0) == sim.counts.get("complete:applied", 0)
    # Every action went through the idempotent RPCs, so the ledger saw each one.
    acted = sum(v for key, v in sim.counts.items() if ":" in key)
    assert ops is not None and ops["n"] == acted


def test_cli_needs_a_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUPABASE_URL", raising=False)
    monkeypatch.delenv("SUPABASE_SERVICE_ROLE_KEY", raising=False)
    assert main(["simulate"]) == 2
    assert "need --url and --service-key" in capsys.readouterr().err


def test_cli_unreachable_server_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["simulate", "--url", url, "--service-key", "k", "--duration", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach {url}") and err.count("\n") == 1


def test_cli_reads_stack_env(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / "stack.env"
    env.write_text(f"SUPABASE_URL=http://127.0.0.1:{free_port()}\nSUPABASE_SERVICE_ROLE_KEY=k\n")
    assert main(["simulate", "--stack-env", str(env), "--duration", "1"]) == 1
    assert "cannot reach" in capsys.readouterr().err


def test_cli_announces_to_the_boards(
    stack: LocalStack, kitchen: Kitchen, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["simulate", "--url", stack.url, "--service-key", stack.service_role_key]
    args += ["--kitchen-id", kitchen.kitchen_id, "--rate", "600", "--duration", "1.5"]
    assert main([*args, "--announce-every", "1", "--seed", "2", "-q"]) == 0
    out = capsys.readouterr().out
    assert "announce=" in out and "added" not in out  # every step was an announcement
    assert main([*args, "--announce-every", "0", "--seed", "2", "-q"]) == 0
    out = capsys.readouterr().out
    assert "announce=" not in out and "added=" in out


async def test_chefs_take_realistic_varied_times_and_the_kitchen_learns(
    stack: LocalStack, kitchen: Kitchen
) -> None:
    sim = KitchenSimulator(
        stack.url, stack.service_role_key, kitchen.kitchen_id, rng=random.Random(3), target_open=8
    )
    try:
        for _ in range(150):
            await sim.step()
    finally:
        await sim.close()
    with connect(stack.db_dsn) as conn:
        got = conn.execute(
            "select t.title, t.kind, s.duration_seconds from prep_samples s "
            "join tasks t on t.id = s.task_id where t.kitchen_id = %s",
            (kitchen.kitchen_id,),
        ).fetchall()
        rows = conn.execute(
            "select basis from prep_estimates where tenant_id = %s", (kitchen.tenant_id,)
        ).fetchall()
    # Every completion was a real claim-to-done time, learned by the server.
    assert len(got) == sim.counts["complete:applied"] >= 20
    minutes = [float(r["duration_seconds"]) / 60 for r in got]
    assert 1 <= min(minutes) and max(minutes) <= 240 and len({round(m) for m in minutes}) > 10
    # Titles are written in more than one way for one kind.
    titles_by_kind: dict[str, set[str]] = {}
    for r in got:
        titles_by_kind.setdefault(r["kind"], set()).add(r["title"])
    assert any(len(t) > 1 for t in titles_by_kind.values())
    assert {r["basis"] for r in rows} >= {"station"} and rows


async def test_compressed_time_records_the_chefs_whole_time(
    stack: LocalStack, kitchen: Kitchen
) -> None:
    """At 3600x a 12-minute job is done 0.2 s after its claim; the server records 12 min."""
    sim = KitchenSimulator(
        stack.url,
        stack.service_role_key,
        kitchen.kitchen_id,
        rng=random.Random(5),
        target_open=1,
        speed=3600,
    )
    try:
        await sim.load_kitchen()
        now = datetime.now(UTC)
        task = await sim.add_task(now)
        assert await sim.claim(task, kitchen.staff[0], now) == "applied"
        plan = sim.plans[task["id"]]
        outcome = ""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not outcome.startswith("complete"):
            assert loop.time() < deadline, "the job was never finished"
            outcome = await sim.step()
    finally:
        await sim.close()
    assert outcome == "complete: applied"
    with connect(stack.db_dsn) as conn:
        row = conn.execute(
            "select t.claimed_at, t.completed_at, t.created_at, s.duration_seconds "
            "from tasks t join prep_samples s on s.task_id = t.id where t.id = %s",
            (task["id"],),
        ).fetchone()
    assert row is not None and row["completed_at"] == plan.finish_at
    took = row["completed_at"] - row["claimed_at"]
    assert abs(took.total_seconds() - float(row["duration_seconds"])) < 0.001  # stored in ms
    assert took > timedelta(minutes=1)
    assert row["created_at"] < row["claimed_at"] < now  # dated back, never before the task
