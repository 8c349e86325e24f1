"""Simultaneous claims on separate connections: exactly one winner."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
import pytest

from tests.pg import add_task, call, connect, device_claims, seed_kitchen, task_row


@pytest.mark.parametrize("n", [20, 100])
def test_simultaneous_claims_have_one_winner(db_url: str, n: int) -> None:
    with connect(db_url) as conn:
        k = seed_kitchen(conn, n_staff=n)
        tid = add_task(conn, k)
    claims = device_claims(k.tenant_id, k.kitchen_id)
    # Open every connection first, then release them together.
    conns = [connect(db_url) for _ in range(n)]
    barrier = threading.Barrier(n)
    results: list[dict[str, Any]] = [{} for _ in range(n)]
    errors: list[BaseException] = []

    def claim(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = call(conns[i], claims, "claim_task", tid, k.staff[i])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for c in conns:
        c.close()
    assert not errors, errors
    outcomes = [r["outcome"] for r in results]
    assert outcomes.count("applied") == 1
    assert outcomes.count("conflict") == n - 1
    winner = k.staff[outcomes.index("applied")]
    with connect(db_url) as conn:
        row = task_row(conn, tid)
        assert row["version"] == 2
        assert row["claimed_by"] == uuid.UUID(winner)
        for r in results:
            if r["outcome"] == "conflict":
                assert r["task"]["claimed_by"] == winner


def test_same_op_from_two_connections_applies_once(db_url: str) -> None:
    with connect(db_url) as conn:
        k = seed_kitchen(conn)
        tid = add_task(conn, k)
    claims = device_claims(k.tenant_id, k.kitchen_id)
    op = str(uuid.uuid4())
    conns = [connect(db_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    out: list[str] = []

    def go(c: psycopg.Connection[Any]) -> None:
        barrier.wait(timeout=30)
        out.append(call(c, claims, "claim_task", tid, k.staff[0], op_id=op)["outcome"])

    ts = [threading.Thread(target=go, args=(c,)) for c in conns]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=30)
    for c in conns:
        c.close()
    assert sorted(out) == ["applied", "duplicate"]
    with connect(db_url) as conn:
        assert task_row(conn, tid)["version"] == 2
