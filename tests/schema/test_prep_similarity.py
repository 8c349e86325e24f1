"""Borrowing for kinds with few samples, and the rows kept for every open task's kind:
exact, similar (with similar_to), station, none; when borrowed rows are refreshed."""

from __future__ import annotations

from typing import Any

from tests.pg import Kitchen, add_task, seed_kitchen
from tests.schema.prep import History, est_row

FIT_COLS = (
    "unit",
    "p50_setup_minutes",
    "p50_minutes_per_unit",
    "p90_setup_minutes",
    "p90_minutes_per_unit",
)


def basis(row: dict[str, Any] | None) -> tuple[Any, ...]:
    assert row is not None
    return (row["basis"], row["similar_to"], row["samples"])


def test_an_open_task_of_a_new_kind_gets_a_row_at_once(conn: Any, k: Kitchen) -> None:
    add_task(conn, k, title="Glaze the ham", station="Grill")
    row = est_row(conn, k, "glaze ham", "Grill")
    assert row is not None
    assert basis(row) == ("none", [], 0)
    assert (row["p50_minutes"], row["p90_minutes"]) == (0, 0)
    assert [row[c] for c in FIT_COLS] == [None] * 5


def test_similar_kind_lends_its_figures(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    for q in [2, 4, 6, 8, 10, 12]:
        hist.done("Dice onions", 4 + 1.5 * q, quantity=q, unit="kg")
    exact = est_row(conn, k, "dice onion")
    add_task(conn, k, title="Dice red onions", quantity=5, unit="kg", station="Prep")
    row = est_row(conn, k, "dice onion red")
    assert basis(row) == ("similar", ["dice onion"], 6)
    assert row is not None and exact is not None
    for c in ("p50_minutes", "unit", "p50_setup_minutes", "p50_minutes_per_unit"):
        assert row[c] == exact[c], c
    # Borrowed p90s sit further from the p50s: x (2 - similarity).
    sim = conn.execute("select similarity('dice onion red', 'dice onion') as s").fetchone()["s"]
    widen = 2 - sim
    for p50, p90 in [
        ("p50_minutes", "p90_minutes"),
        ("p50_setup_minutes", "p90_setup_minutes"),
        ("p50_minutes_per_unit", "p90_minutes_per_unit"),
    ]:
        want = float(exact[p50]) + (float(exact[p90]) - float(exact[p50])) * widen
        assert abs(float(row[p90]) - want) < 0.01, p90
    assert row["p90_minutes"] > exact["p90_minutes"]


def test_most_similar_first_and_same_station_weighs_more(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.many("Dice onions", [10, 10, 10, 10])
    hist.many("Dice onions", [30, 30, 30, 30], station="Cold")
    hist.many("Dice red peppers", [20, 20, 20, 20])
    add_task(conn, k, title="Finely dice red onions", station="Prep")
    row = est_row(conn, k, "dice finely onion red")
    assert row is not None and row["basis"] == "similar"
    assert row["similar_to"][0] == "dice onion red" or row["similar_to"][0] == "dice onion"
    assert set(row["similar_to"]) <= {"dice onion", "dice pepper red"}
    # The Prep figure (10) outweighs the same kind at Cold (30).
    assert row["p50_minutes"] < 20


def test_nothing_similar_borrows_the_stations_typical_times(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.many("Dice onions", [10, 12, 14])
    hist.many("Slice leeks", [20, 22])
    add_task(conn, k, title="Brine pork loins", station="Prep")
    row = est_row(conn, k, "brine loin pork")
    assert basis(row) == ("station", [], 5)
    assert row is not None and row["p50_minutes"] == 14
    # A kind with one or two samples of its own still borrows.
    leeks = est_row(conn, k, "leek slice")
    assert leeks is not None and leeks["basis"] == "station" and leeks["samples"] == 5


def test_a_station_without_history_has_none(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.many("Dice onions", [10, 12, 14])
    add_task(conn, k, title="Temper chocolate", station="Pastry")
    assert basis(est_row(conn, k, "chocolate temper", "Pastry")) == ("none", [], 0)


def test_borrowing_rows_follow_the_kind_they_borrow_from(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.many("Dice onions", [10, 10, 10])
    add_task(conn, k, title="Dice red onions", station="Prep")
    assert est_row(conn, k, "dice onion red")["p50_minutes"] == 10  # type: ignore[index]
    hist.many("Dice onions", [20, 20, 20, 20])
    row = est_row(conn, k, "dice onion red")
    assert basis(row) == ("similar", ["dice onion"], 7)
    assert row is not None and row["p50_minutes"] == 20
    # The same kind's row at another station borrows too, but is not refreshed by
    # completions at Prep (refreshes stay at the station that changed).
    add_task(conn, k, title="Dice red onions", station="Cold")
    cold = est_row(conn, k, "dice onion red", "Cold")
    assert cold is not None and cold["basis"] == "similar" and cold["p50_minutes"] == 20


def test_a_kind_that_becomes_exact_is_borrowed_from(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.many("Slice leeks", [30, 30, 30])
    add_task(conn, k, title="Dice red onions", station="Prep")
    assert basis(est_row(conn, k, "dice onion red")) == ("station", [], 3)
    hist.many("Dice onions", [10, 10])
    assert basis(est_row(conn, k, "dice onion red")) == ("station", [], 5)
    hist.done("Dice onions", 10)  # the third: now exact, and similar rows borrow it
    assert basis(est_row(conn, k, "dice onion red")) == ("similar", ["dice onion"], 3)


def test_a_reopen_that_leaves_too_few_samples_stops_the_lending(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.many("Peel garlic", [20, 20])
    ids = hist.many("Dice onions", [10, 10, 10])
    add_task(conn, k, title="Dice red onions", station="Prep")
    assert basis(est_row(conn, k, "dice onion red"))[0] == "similar"
    conn.execute(
        "update tasks set status = 'pending', claimed_by = null, claimed_at = null, "
        "completed_by = null, completed_at = null where id = %s",
        (ids[0],),
    )
    assert basis(est_row(conn, k, "dice onion")) == ("station", [], 4)
    assert basis(est_row(conn, k, "dice onion red")) == ("station", [], 4)


def test_station_rows_take_each_new_station_figure(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.many("Slice leeks", [10, 10, 10])
    add_task(conn, k, title="Brine pork loins", station="Prep")
    assert est_row(conn, k, "brine loin pork")["p50_minutes"] == 10  # type: ignore[index]
    hist.many("Peel garlic", [40, 40, 40, 40])
    row = est_row(conn, k, "brine loin pork")
    assert basis(row) == ("station", [], 7)
    assert row is not None and row["p50_minutes"] == 40


def test_rows_for_title_and_station_changes_and_bulk_imports(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k, title="Dice onions", station="Prep")
    conn.execute("update tasks set title = 'Slice leeks' where id = %s", (tid,))
    conn.execute("update tasks set station = 'Cold' where id = %s", (tid,))
    conn.execute(
        "insert into tasks (tenant_id, kitchen_id, title, station) "
        "select %s, %s, 'Prep job ' || chr(96 + i) || chr(96 + i), 'Prep' "
        "from generate_series(1, 20) i",
        (k.tenant_id, k.kitchen_id),
    )
    keys = {
        (r["task_key"], r["station"])
        for r in conn.execute(
            "select task_key, station from prep_estimates where tenant_id = %s", (k.tenant_id,)
        ).fetchall()
    }
    assert {("dice onion", "Prep"), ("leek slice", "Prep"), ("leek slice", "Cold")} <= keys
    wanted = {
        (r["kind"], "Prep")
        for r in conn.execute(
            "select distinct kind from tasks where tenant_id = %s and title like 'Prep job %%'",
            (k.tenant_id,),
        ).fetchall()
    }
    assert len(wanted) == 20 and wanted <= keys
    # A completion deletes no row.
    conn.execute(
        "update tasks set status = 'done', claimed_by = %s, completed_by = %s, "
        "claimed_at = now() - interval '5 minutes', completed_at = now() where id = %s",
        (k.staff[0], k.staff[0], tid),
    )
    assert est_row(conn, k, "leek slice", "Cold") is not None


def test_tenants_never_borrow_from_each_other(conn: Any, k: Kitchen) -> None:
    other = seed_kitchen(conn)
    History(conn, other).many("Dice onions", [10, 10, 10])
    add_task(conn, k, title="Dice red onions", station="Prep")
    assert basis(est_row(conn, k, "dice onion red")) == ("none", [], 0)


def test_unchanged_figures_are_not_rewritten(conn: Any, k: Kitchen) -> None:
    hist = History(conn, k)
    hist.many("Dice onions", [10.0] * 50)
    add_task(conn, k, title="Dice red onions", station="Prep")
    before = [est_row(conn, k, kind) for kind in ("dice onion", "dice onion red")]
    hist.done("Dice onions", 10)  # a full window of the same figure: nothing moves
    after = [est_row(conn, k, kind) for kind in ("dice onion", "dice onion red")]
    assert after == before
