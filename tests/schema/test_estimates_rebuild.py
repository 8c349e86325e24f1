"""`caterking-server estimates rebuild`, and migration 0004 on a database with history:
recomputing from the tasks gives exactly what the triggers kept."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from caterking_schema.migrate import apply_base, migrate, migrations
from caterking_server.cli import main
from caterking_server.embedded_pg import EmbeddedPostgres, free_port
from tests.pg import Kitchen, add_task, connect, seed_kitchen, task_row
from tests.schema.prep import BASE, History, est_row, samples

TITLES = ["Dice onions", "Onions, diced", "Dice red onions", "Slice leeks", "Peel garlic"]


def snapshot(conn: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = conn.execute(
        "select * from prep_estimates order by tenant_id, task_key, station"
    ).fetchall()
    for r in rows:
        r.pop("updated_at")
    return rows


def busy_day(conn: Any, k: Kitchen, seed: int) -> None:
    """A random mix of imports, admin edits, completions, reopens, renames and new open
    tasks at one station."""
    rng = random.Random(seed)
    hist = History(conn, k)
    done: list[str] = []
    for _ in range(60):
        roll = rng.random()
        if roll < 0.5:
            q = rng.choice([None, 2, 5, 10, 20])
            done.append(
                hist.done(
                    rng.choice(TITLES),
                    round(rng.uniform(5, 40), 1),
                    quantity=q,
                    unit=None if q is None else rng.choice(["kg", "KG", "g"]),
                )
            )
        elif roll < 0.6 and done:
            tid = done.pop(rng.randrange(len(done)))
            conn.execute(
                "update tasks set status = 'pending', claimed_by = null, claimed_at = null, "
                "completed_by = null, completed_at = null where id = %s",
                (tid,),
            )
        elif roll < 0.7 and done:
            conn.execute(
                "update tasks set title = %s where id = %s",
                (rng.choice(TITLES), rng.choice(done)),
            )
        elif roll < 0.8 and done:
            conn.execute(
                "update tasks set claimed_at = claimed_at - interval '3 minutes' where id = %s",
                (rng.choice(done),),
            )
        else:
            add_task(conn, k, title=rng.choice([*TITLES, "Brine pork loins"]), station="Prep")


def test_rebuild_finds_what_the_triggers_kept(
    conn: Any, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for seed in range(3):
        busy_day(conn, seed_kitchen(conn), seed)
    live = snapshot(conn)
    live_samples = conn.execute("select * from prep_samples order by task_id").fetchall()
    assert main(["estimates", "rebuild", "--db-url", db_url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("rebuilt learned estimates for all tenants\n")
    assert f"samples: {len(live_samples)} done tasks" in out
    assert "rows: 0 written, 0 removed" in out
    assert snapshot(conn) == live
    rebuilt = conn.execute("select * from prep_samples order by task_id").fetchall()
    assert [{**r, "recorded_at": None} for r in rebuilt] == [
        {**r, "recorded_at": None} for r in live_samples
    ]


def test_rebuild_repairs_and_removes(
    conn: Any, k: Kitchen, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    other = seed_kitchen(conn)
    History(conn, k).many("Dice onions", [10, 12, 14])
    History(conn, other).many("Dice onions", [20, 22, 24])
    good = snapshot(conn)
    # An import with the learning triggers off, a hand-edited row and a stray key.
    conn.execute("alter table tasks disable trigger tasks_learn_insert")
    History(conn, k, clock=BASE + timedelta(days=1)).done("Dice onions", 30)
    conn.execute("alter table tasks enable trigger tasks_learn_insert")
    conn.execute(
        "update prep_estimates set p50_minutes = 99 where tenant_id = %s", (other.tenant_id,)
    )
    conn.execute(
        "insert into prep_estimates (tenant_id, task_key, station, p50_minutes, p90_minutes, "
        "basis) values (%s, 'dice-onions', 'veg', 10, 15, 'exact')",
        (k.tenant_id,),
    )
    assert main(["estimates", "rebuild", "--db-url", db_url, "--tenant", k.tenant_id]) == 0
    out = capsys.readouterr().out
    assert f"for tenant {k.tenant_id}" in out and "1 removed" in out
    assert len(samples(conn, k)) == 4
    assert est_row(conn, k, "dice-onions", "veg") is None
    row = est_row(conn, k, "dice onion")
    assert row is not None and row["samples"] == 4 and row["p50_minutes"] == 13
    assert est_row(conn, other, "dice onion")["p50_minutes"] == 99  # type: ignore[index]
    assert main(["estimates", "rebuild", "--db-url", db_url]) == 0
    capsys.readouterr()
    assert est_row(conn, other, "dice onion") == next(
        r for r in good if str(r["tenant_id"]) == other.tenant_id
    ) | {"updated_at": est_row(conn, other, "dice onion")["updated_at"]}  # type: ignore[index]


def test_cli_errors_are_one_line(
    pg_server: EmbeddedPostgres, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CATERKING_DB_URL", raising=False)
    assert main(["estimates"]) == 2
    assert "estimates rebuild --db-url" in capsys.readouterr().err
    assert main(["estimates", "rebuild"]) == 2
    assert "--db-url is required" in capsys.readouterr().err
    assert main(["estimates", "rebuild", "--db-url", "x", "--tenant", "nope"]) == 2
    assert "not a UUID" in capsys.readouterr().err
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    assert main(["estimates", "rebuild", "--db-url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot connect to the database:") and err.count("\n") == 1
    assert main(["estimates", "rebuild", "--db-url", pg_server.dsn]) == 1
    err = capsys.readouterr().err
    assert "run `caterking-server migrate` first" in err and err.count("\n") == 1


def test_migration_learns_from_the_history_there_is(pg_server: EmbeddedPostgres) -> None:
    name = f"m_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as c:
        c.execute(f"create database {name}")
    try:
        earlier = [m for m in migrations() if m.version < "0004"]
        (this,) = [m for m in migrations() if m.version == "0004"]
        with connect(pg_server.url(name)) as conn:
            apply_base(conn)  # type: ignore[arg-type]
            for m in earlier:
                conn.execute(m.sql.encode())
            k = seed_kitchen(conn)
            done = []
            for minutes in (10, 12, 14):
                done.append(
                    add_task(
                        conn,
                        k,
                        title="Onions, diced",
                        station="Prep",
                        status="done",
                        claimed_by=k.staff[0],
                        completed_by=k.staff[0],
                        claimed_at=BASE,
                        completed_at=BASE + timedelta(minutes=minutes),
                    )
                )
            open_task = add_task(conn, k, title="Dice red onions", station="Prep")
            conn.execute(
                "insert into prep_estimates (tenant_id, task_key, station, p50_minutes, "
                "p90_minutes) values (%s, 'hand-made', '', 1, 2)",
                (k.tenant_id,),
            )
            with conn.transaction():
                conn.execute(this.sql.encode())
            t = task_row(conn, open_task)
            assert (t["kind"], t["version"]) == ("dice onion red", 2)  # boards learn the kind
            assert len(samples(conn, k)) == 3
            row = est_row(conn, k, "dice onion")
            assert row is not None and (row["basis"], row["p50_minutes"]) == ("exact", 12)
            borrowed = est_row(conn, k, "dice onion red")
            assert borrowed is not None and borrowed["similar_to"] == ["dice onion"]
            assert est_row(conn, k, "hand-made", "") is None
            forced = conn.execute(
                "select relforcerowsecurity as f from pg_class where oid = 'tasks'::regclass"
            ).fetchone()
            assert forced == {"f": True}
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as c:
            c.execute(f"drop database if exists {name} with (force)")


def test_migration_uses_pg_trgm_where_a_hosted_project_has_it(pg_server: EmbeddedPostgres) -> None:
    """A hosted project keeps extensions in schema `extensions`: 0004 uses that one, and
    the similarity search works through it."""
    name = f"m_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as c:
        c.execute(f"create database {name}")
    try:
        with psycopg.connect(pg_server.url(name), autocommit=True) as c:
            c.execute("create schema extensions")
            c.execute("create extension pg_trgm with schema extensions")
        migrate(pg_server.url(name), with_base=True)
        with connect(pg_server.url(name)) as conn:
            where = conn.execute(
                "select n.nspname as s from pg_extension x join pg_namespace n "
                "on n.oid = x.extnamespace where x.extname = 'pg_trgm'"
            ).fetchone()
            assert where == {"s": "extensions"}
            k = seed_kitchen(conn)
            History(conn, k).many("Dice onions", [10, 12, 14])
            add_task(conn, k, title="Dice red onions", station="Prep")
            row = est_row(conn, k, "dice onion red")
            assert row is not None and row["similar_to"] == ["dice onion"]
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as c:
            c.execute(f"drop database if exists {name} with (force)")
