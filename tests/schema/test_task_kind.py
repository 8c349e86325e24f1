"""public.task_kind and tasks.kind: one key for every way of writing the same job."""

from __future__ import annotations

from typing import Any

import pytest

from tests.pg import Kitchen, add_task, as_claims, device_claims, task_row
from tests.schema.prep import kind

SAME = [
    ("dice onion", ["Onions, diced", "Dice onions", "dice ONION", "  Dice   the onions!! "]),
    ("dice onion", ["Dice onions, diced", "2 x 5 kg onions, diced", "Diced onions (5kg)"]),
    ("bechamel", ["Make béchamel", "MAKE BÉCHAMEL", "make bechamel", "Béchamel", "Prep béchamel"]),
    ("potato salad", ["Make potato salad", "Potato salad", "Prepare potato salads"]),
    ("char grill zucchini", ["Char-grill zucchinis", "zucchini, char-grilled"]),
    ("blini", ["Blinis", "blini"]),
    ("chicken roast thigh", ["Roast 40 chicken thighs", "Chicken thighs, roasted x2"]),
    ("garlic mince", ["Mince garlic 500g", "Garlic - minced, 500 g", "mince 0.5 kg of garlic"]),
    ("cube peel potato", ["Peel and cube potatoes", "Potatoes: peeled & cubed"]),
    ("cream whip", ["Whip cream 3 L", "Whipped cream, 3l", "whip 3 litres of cream"]),
    ("berry wash", ["Wash berries", "Berries, washed"]),
    ("salad tomato", ["Tomato salad", "tomatoes salad"]),
    ("canape plate salmon smoke", ["Plate smoked salmon canapés", "Smoke salmon canape plate"]),
    ("jus reduce veal", ["Reduce veal jus"]),
    ("pastis", ["Pastis"]),
    ("asparagus trim", ["Trim asparagus", "Asparagus, trimmed"]),
    ("dish wash", ["Wash dishes", "Wash the dish"]),
    ("chef special", ["Chef's special", "chef’s specials"]),
    ("char grill zucchini", ["Char-grill zucchini", "Zucchini — char grilled"]),
    ("mussel steam white wine", ["Steam mussels in white wine"]),
    ("leaf pick", ["Pick leaves", "Leaf, picked"]),
    ("creme fraiche", ["Crème fraîche", "CRÈME FRAÎCHE"]),
]


@pytest.mark.parametrize(("key", "titles"), SAME, ids=[s[0] for s in SAME])
def test_titles_of_one_job_give_one_kind(conn: Any, key: str, titles: list[str]) -> None:
    assert {t: kind(conn, t) for t in titles} == dict.fromkeys(titles, key)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Dice onions", "Dice red onions"),
        ("Dice onions", "Slice onions"),
        ("Whip cream", "Whip egg whites"),
        ("Roast chicken thighs", "Roast chicken breasts"),
    ],
)
def test_different_jobs_stay_apart(conn: Any, a: str, b: str) -> None:
    assert kind(conn, a) != kind(conn, b)


def test_nothing_but_small_words_or_quantities_is_kept_not_emptied(conn: Any) -> None:
    assert kind(conn, "The") == "the"
    assert kind(conn, "5 kg") == "5 kg"
    assert kind(conn, "!!!") == ""
    assert conn.execute("select public.task_kind(null) as k").fetchone()["k"] is None


def test_task_kind_is_immutable_and_callable_by_signed_in_users(conn: Any, k: Kitchen) -> None:
    fn = conn.execute(
        "select provolatile, proisstrict from pg_proc where oid = 'public.task_kind(text)'::regprocedure"
    ).fetchone()
    assert fn == {"provolatile": "i", "proisstrict": True}
    with as_claims(conn, device_claims(k.tenant_id, k.kitchen_id)):
        assert conn.execute("select public.task_kind('Dice onions') as k").fetchone()["k"] == (
            "dice onion"
        )


def test_tasks_kind_follows_the_title(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k, title="Onions, diced")
    row = task_row(conn, tid)
    assert (row["kind"], row["version"]) == ("dice onion", 1)
    conn.execute("update tasks set title = 'Slice leeks' where id = %s", (tid,))
    row = task_row(conn, tid)
    assert (row["kind"], row["version"]) == ("leek slice", 2)  # one change, one version
    # Written directly, the kind is put back: it is always the title's.
    conn.execute("update tasks set kind = 'anything' where id = %s", (tid,))
    row = task_row(conn, tid)
    assert (row["kind"], row["version"]) == ("leek slice", 2)
    admin = device_claims(k.tenant_id, k.kitchen_id, kind="admin")
    with as_claims(conn, admin):
        made = conn.execute(
            "insert into tasks (tenant_id, kitchen_id, title, kind) "
            "values (%s, %s, 'Dice ONION', 'x') returning kind",
            (k.tenant_id, k.kitchen_id),
        ).fetchone()
    assert made["kind"] == "dice onion"


def test_tasks_kind_is_indexed_btree_and_trigram(conn: Any) -> None:
    defs = [
        r["indexdef"]
        for r in conn.execute(
            "select indexdef from pg_indexes where tablename = 'tasks' and indexdef like '%%kind%%'"
        ).fetchall()
    ]
    assert any("btree (tenant_id, kind, station)" in d for d in defs), defs
    assert any("gin (kind" in d and "gin_trgm_ops" in d for d in defs), defs


def test_the_catalogues_variants_are_one_kind_and_its_similar_jobs_are_near(conn: Any) -> None:
    """The simulator and the benchmark rely on it: variants share their job's kind;
    similar jobs are another kind that pg_trgm finds (similarity >= 0.4, the threshold)."""
    from caterking_server.kitchen_catalogue import SIMILAR_JOBS, TITLE_VARIANTS

    for base, variants in TITLE_VARIANTS.items():
        for v in variants:
            assert kind(conn, v) == kind(conn, base), (base, v)
    for base, jobs in SIMILAR_JOBS.items():
        for title, _ in jobs:
            a, b = kind(conn, base), kind(conn, title)
            sim = conn.execute("select similarity(%s, %s) as s", (a, b)).fetchone()["s"]
            assert a != b and sim >= 0.4, (base, title, sim)
