"""The kitchen simulator drives a real local stack through the public REST API."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from caterking_display.cli import main
from caterking_display.kitchen_catalogue import NOTES, NOTES_BY_TITLE, allergens_for
from caterking_display.localstack.embedded_pg import free_port
from caterking_display.localstack.stack import LocalStack
from caterking_display.simulate import KitchenSimulator
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
