"""Learning from completions against real PostgreSQL: which durations count, how they
are replaced, the sliding window, the quantity fit, and that nothing else is touched."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from tests.pg import SERVICE, Kitchen, add_task, as_claims, call, connect, device_claims, task_row
from tests.schema.prep import History, est_row, samples


def dev(k: Kitchen) -> dict[str, Any]:
    return device_claims(k.tenant_id, k.kitchen_id)


def db_now(conn: Any) -> Any:
    return conn.execute("select now() as n").fetchone()["n"]


def fresh_task(conn: Any, k: Kitchen, **cols: Any) -> str:
    """A task (at station Prep unless told) made two hours ago, so acted times within the
    last two hours stand."""
    cols.setdefault("station", "Prep")
    return add_task(conn, k, created_at=db_now(conn) - timedelta(hours=2), **cols)


# --- what counts as a sample -----------------------------------------------------------


def test_complete_task_records_the_chefs_time(conn: Any, k: Kitchen) -> None:
    tid = fresh_task(conn, k, title="Dice onions", quantity=5, unit=" KG ", station="Prep")
    now = db_now(conn)
    call(conn, dev(k), "claim_task", tid, k.staff[1], acted_at=now - timedelta(minutes=14))
    call(conn, dev(k), "complete_task", tid, k.staff[1], acted_at=now - timedelta(minutes=2))
    (s,) = samples(conn, k)
    assert str(s["task_id"]) == tid and s["kind"] == "dice onion" and s["station"] == "Prep"
    assert (s["quantity"], s["unit"], str(s["chef_id"])) == (5, "kg", k.staff[1])
    assert s["duration_seconds"] == 12 * 60
    t = task_row(conn, tid)
    assert (s["claimed_at"], s["completed_at"]) == (t["claimed_at"], t["completed_at"])


def test_completed_from_pending_is_not_a_duration(conn: Any, k: Kitchen) -> None:
    tid = fresh_task(conn, k)
    call(conn, dev(k), "complete_task", tid, k.staff[0])
    t = task_row(conn, tid)
    assert t["claimed_at"] == t["completed_at"]  # the server stamps both
    assert samples(conn, k) == []


@pytest.mark.parametrize(
    ("seconds", "kept"),
    [(19, False), (20, True), (8 * 3600, True), (8 * 3600 + 1, False)],
)
def test_too_short_or_too_long_is_ignored(conn: Any, k: Kitchen, seconds: int, kept: bool) -> None:
    tid = fresh_task(conn, k, status="claimed", claimed_by=k.staff[0])
    conn.execute(
        "update tasks set status = 'done', completed_by = claimed_by, "
        "claimed_at = now() - make_interval(secs => %s), completed_at = now() where id = %s",
        (seconds, tid),
    )
    assert len(samples(conn, k)) == int(kept)


def test_release_and_reclaim_counts_from_the_last_claim(conn: Any, k: Kitchen) -> None:
    tid = fresh_task(conn, k)
    now = db_now(conn)
    call(conn, dev(k), "claim_task", tid, k.staff[0], acted_at=now - timedelta(minutes=90))
    call(conn, dev(k), "release_task", tid, k.staff[0], acted_at=now - timedelta(minutes=60))
    assert task_row(conn, tid)["claimed_at"] is None  # a release clears the claim
    call(conn, dev(k), "claim_task", tid, k.staff[1], acted_at=now - timedelta(minutes=20))
    call(conn, dev(k), "complete_task", tid, k.staff[1], acted_at=now - timedelta(minutes=5))
    (s,) = samples(conn, k)
    assert s["duration_seconds"] == 15 * 60 and str(s["chef_id"]) == k.staff[1]


def test_reopen_withdraws_and_a_new_completion_replaces(conn: Any, k: Kitchen) -> None:
    tid = fresh_task(conn, k, title="Whip cream", station="Pastry")
    now = db_now(conn)
    call(conn, dev(k), "claim_task", tid, k.staff[0], acted_at=now - timedelta(minutes=80))
    call(conn, dev(k), "complete_task", tid, k.staff[0], acted_at=now - timedelta(minutes=70))
    assert [s["duration_seconds"] for s in samples(conn, k)] == [600]
    call(conn, dev(k), "reopen_task", tid, k.staff[0], acted_at=now - timedelta(minutes=60))
    assert samples(conn, k) == []
    call(conn, dev(k), "claim_task", tid, k.staff[2], acted_at=now - timedelta(minutes=30))
    call(conn, dev(k), "complete_task", tid, k.staff[2], acted_at=now - timedelta(minutes=5))
    (s,) = samples(conn, k)
    assert (s["duration_seconds"], str(s["chef_id"])) == (25 * 60, k.staff[2])
    # A replayed completion (same op id) changes nothing, so counts nothing twice.
    assert len(samples(conn, k)) == 1


def test_every_path_to_done_is_learned(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.done("Dice onions", 10)  # an import: inserted as done
    # Admin edits the row of a claimed task directly.
    a = fresh_task(conn, k, status="claimed", claimed_by=k.staff[0])
    with as_claims(conn, device_claims(k.tenant_id, k.kitchen_id, kind="admin")):
        conn.execute(
            "update tasks set status = 'done', completed_by = claimed_by, "
            "claimed_at = now() - interval '11 minutes', completed_at = now() where id = %s",
            (a,),
        )
    # A back-office job with the service role.
    b = fresh_task(conn, k, status="claimed", claimed_by=k.staff[0])
    with as_claims(conn, SERVICE):
        conn.execute(
            "update tasks set status = 'done', completed_by = claimed_by, "
            "claimed_at = now() - interval '12 minutes', completed_at = now() where id = %s",
            (b,),
        )
    got = sorted(int(s["duration_seconds"]) // 60 for s in samples(conn, k, "dice onion"))
    assert got == [10, 11, 12]
    row = est_row(conn, k, "dice onion")
    assert row is not None and (row["basis"], row["samples"], row["p50_minutes"]) == (
        "exact",
        3,
        11,
    )


def test_admin_fixing_a_done_tasks_times_or_title_moves_its_sample(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    tid = hist.done("Dice onions", 10)
    conn.execute(
        "update tasks set claimed_at = completed_at - interval '16 minutes' where id = %s", (tid,)
    )
    assert [s["duration_seconds"] for s in samples(conn, k)] == [960]
    conn.execute("update tasks set title = 'Slice leeks' where id = %s", (tid,))
    assert [s["kind"] for s in samples(conn, k)] == ["leek slice"]
    conn.execute("delete from tasks where id = %s", (tid,))
    assert samples(conn, k) == []


# --- the estimate -------------------------------------------------------------------------


def test_three_samples_make_an_exact_estimate(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.many("Dice onions", [10, 12])
    row = est_row(conn, k, "dice onion")
    assert row is not None and row["basis"] != "exact"  # two are not enough
    hist.done("Onions, diced", 20)
    row = est_row(conn, k, "dice onion")
    assert row is not None
    assert (row["basis"], row["samples"], row["similar_to"]) == ("exact", 3, [])
    assert row["p50_minutes"] == 12
    assert 12 < row["p90_minutes"] <= 20


def test_outliers_barely_move_the_median(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.many("Dice onions", [10, 11, 9, 10, 12, 10, 9, 11, 10])
    hist.done("Dice onions", 7 * 60)  # the chef forgot to press done before lunch
    row = est_row(conn, k, "dice onion")
    assert row is not None and row["samples"] == 10
    assert row["p50_minutes"] == 10


def test_only_the_last_fifty_samples_count(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.many("Dice onions", [40.0] * 20)  # the old way of doing it
    hist.many("Dice onions", [10.0] * 50)  # the new food processor
    row = est_row(conn, k, "dice onion")
    assert row is not None
    assert (row["samples"], row["p50_minutes"], row["p90_minutes"]) == (50, 10, 10)
    assert len(samples(conn, k)) == 70  # all kept; the window is in the estimate


def test_quantity_fit_scales_with_the_job(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    # 4 minutes to set up, then 1.5 minutes a kilo, a little noise either way.
    noise = [1.0, 1.1, 0.9, 1.05, 0.95, 1.0, 1.15, 0.9, 1.0, 1.1, 0.95, 1.0]
    kilos = [2, 5, 10, 20, 3, 8, 15, 4, 12, 6, 18, 2]
    for q, f in zip(kilos, noise, strict=True):
        hist.done("Dice onions", round((4 + 1.5 * q) * f, 2), quantity=q, unit="kg")
    row = est_row(conn, k, "dice onion")
    assert row is not None and row["unit"] == "kg"
    p50 = lambda q: float(row["p50_setup_minutes"] + row["p50_minutes_per_unit"] * q)  # noqa: E731
    p90 = lambda q: float(row["p90_setup_minutes"] + row["p90_minutes_per_unit"] * q)  # noqa: E731
    assert 3.0 <= p50(2) <= 9.0 and 27 <= p50(20) <= 40
    assert p50(20) > 3 * p50(2)
    assert p90(2) >= p50(2) and p90(20) >= p50(20)
    assert 0 <= row["p50_setup_minutes"] <= 8 and 1.2 <= row["p50_minutes_per_unit"] <= 1.8
    # The flat figures stay for tasks without a quantity or in another unit.
    assert row["p50_minutes"] > 0 and row["p90_minutes"] >= row["p50_minutes"]


@pytest.mark.parametrize(
    "quantities",
    [
        [(5, "kg")] * 8,  # all the same: setup and rate cannot be told apart
        [(None, None)] * 8,  # no quantities
        [(2, "kg"), (500, "g"), (1, "l"), (3, "pcs"), (8, "kg"), (250, "g"), (2, "l"), (5, "x")],
    ],
    ids=["equal", "missing", "mixed-units"],
)
def test_no_fit_falls_back_to_flat_figures(
    conn: Any, k: Kitchen, quantities: list[tuple[float | None, str | None]]
) -> None:
    hist = History(conn, k)
    for i, (q, u) in enumerate(quantities):
        hist.done("Dice onions", 10 + i, quantity=q, unit=u)
    row = est_row(conn, k, "dice onion")
    assert row is not None and row["basis"] == "exact"
    assert [
        row[c]
        for c in (
            "unit",
            "p50_setup_minutes",
            "p50_minutes_per_unit",
            "p90_setup_minutes",
            "p90_minutes_per_unit",
        )
    ] == [None] * 5
    assert row["p50_minutes"] == 13.5


def test_fit_uses_the_unit_most_samples_are_in(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    for q in [1, 2, 4, 8, 3, 6]:
        hist.done("Dice onions", 2 + 2 * q, quantity=q, unit="KG")
    hist.many("Dice onions", [30, 31], quantity=500, unit="g")
    row = est_row(conn, k, "dice onion")
    assert row is not None and row["unit"] == "kg"
    assert row["p50_setup_minutes"] == 2 and row["p50_minutes_per_unit"] == 2


# --- the transaction, and what it does not touch --------------------------------------------


def test_estimate_changes_in_the_completions_transaction(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.many("Dice onions", [10, 10, 10])
    tid = fresh_task(conn, k, title="Dice onions", status="claimed", claimed_by=k.staff[0])
    conn.execute(
        "update tasks set claimed_at = now() - interval '40 minutes' where id = %s", (tid,)
    )
    with conn.transaction(force_rollback=True):
        call(conn, dev(k), "complete_task", tid, k.staff[0])
        inside = est_row(conn, k, "dice onion")
        assert inside is not None and inside["samples"] == 4 and inside["p90_minutes"] > 10
    after = est_row(conn, k, "dice onion")
    assert after is not None and after["samples"] == 3  # rolled back with it


def test_a_completion_rewrites_no_other_task(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.many("Dice onions", [10, 12, 14])
    others = [
        fresh_task(conn, k, title=t)
        for t in ("Dice red onions", "Onions, diced", "Slice leeks", "Whip cream")
    ]
    tid = fresh_task(conn, k, title="Dice onions")
    before = {
        r["id"]: (r["version"], r["updated_at"])
        for r in conn.execute("select id, version, updated_at from tasks").fetchall()
    }
    now = db_now(conn)
    call(conn, dev(k), "claim_task", tid, k.staff[0], acted_at=now - timedelta(minutes=30))
    call(conn, dev(k), "complete_task", tid, k.staff[0])
    after = {
        r["id"]: (r["version"], r["updated_at"])
        for r in conn.execute("select id, version, updated_at from tasks").fetchall()
    }
    changed = {str(i) for i in before if before[i] != after[i]}
    assert changed == {tid}
    assert set(others) <= {str(i) for i in after}
    row = est_row(conn, k, "dice onion")
    assert row is not None and row["samples"] == 4


def test_concurrent_completions_at_one_station_both_count(db_url: str, k: Kitchen) -> None:
    """Two completions of one kind in parallel transactions: the second waits for the
    first and then counts both samples (no lost update of the row)."""
    with connect(db_url) as setup:
        hist = History(setup, k)
        hist.many("Dice onions", [10, 10, 10])
        a = fresh_task(setup, k, title="Dice onions", status="claimed", claimed_by=k.staff[0])
        b = fresh_task(setup, k, title="Dice onions", status="claimed", claimed_by=k.staff[1])
        setup.execute(
            "update tasks set claimed_at = now() - interval '30 minutes' where id in (%s, %s)",
            (a, b),
        )
    first = connect(db_url)
    second = connect(db_url)
    errors: list[BaseException] = []
    try:
        first.execute("begin")
        call(first, dev(k), "complete_task", a, k.staff[0])
        pid = second.execute("select pg_backend_pid() as p").fetchone()["p"]

        def run() -> None:
            try:
                call(second, dev(k), "complete_task", b, k.staff[1])
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        th = threading.Thread(target=run)
        th.start()
        with connect(db_url) as watch:
            deadline = time.monotonic() + 10
            while not watch.execute(
                "select wait_event_type = 'Lock' as w from pg_stat_activity where pid = %s",
                (pid,),
            ).fetchone()["w"]:
                assert time.monotonic() < deadline, "the second completion never waited"
        first.execute("commit")
        th.join(10)
        assert not errors and not th.is_alive()
    finally:
        first.close()
        second.close()
    with connect(db_url) as check:
        row = est_row(check, k, "dice onion")
    assert row is not None and row["samples"] == 5


def test_learning_runs_as_the_server_not_the_caller(conn: Any, k: Kitchen) -> None:
    """A display may not write samples or estimates; its completion still writes both."""
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege),
        as_claims(conn, dev(k)),
    ):
        conn.execute(
            "insert into prep_samples (task_id, tenant_id, kitchen_id, kind, station, "
            "duration_seconds, claimed_at, completed_at) select id, tenant_id, kitchen_id, "
            "kind, station, 60, now(), now() from tasks limit 1"
        )
    tid = fresh_task(conn, k)
    now = db_now(conn)
    call(conn, dev(k), "claim_task", tid, k.staff[0], acted_at=now - timedelta(minutes=9))
    call(conn, dev(k), "complete_task", tid, k.staff[0])
    assert len(samples(conn, k)) == 1
