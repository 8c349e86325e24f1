"""tasks.allergens: the 14 major allergens as lower-case words, nothing else."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from caterking_display.domain.task import ALLERGEN_WORDS
from caterking_server.stack import LocalStack
from tests.pg import Kitchen, add_task, as_claims, connect, device_claims, task_row


def test_the_database_and_the_domain_know_the_same_14_words(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k, allergens=list(ALLERGEN_WORDS))
    assert task_row(conn, tid)["allergens"] == list(ALLERGEN_WORDS)
    assert len(ALLERGEN_WORDS) == 14


def test_none_by_default(conn: Any, k: Kitchen) -> None:
    assert task_row(conn, add_task(conn, k))["allergens"] == []


def test_known_words_are_kept_as_written(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k, title="Lemon tart shells", allergens=["gluten", "eggs", "milk"])
    assert task_row(conn, tid)["allergens"] == ["gluten", "eggs", "milk"]


def test_an_unknown_word_is_refused_with_a_clear_error(conn: Any, k: Kitchen) -> None:
    with pytest.raises(psycopg.errors.CheckViolation) as err:
        add_task(conn, k, allergens=["gluten", "walnuts"])
    assert "unknown allergen 'walnuts'" in str(err.value)
    hint = err.value.diag.message_hint or ""
    assert hint.startswith("Use these lower-case words: celery, gluten,")
    assert conn.execute("select count(*) as n from tasks").fetchone()["n"] == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["Milk"], "unknown allergen 'Milk'"),
        ([" milk"], "unknown allergen ' milk'"),
        (["milk", None], "unknown allergen NULL"),
        (["milk"] * 15, "at most 14"),
        ([["milk"], ["eggs"]], "flat list"),
    ],
)
def test_other_bad_lists_are_refused(conn: Any, k: Kitchen, value: Any, message: str) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match=message):
        add_task(conn, k, allergens=value)


def test_null_is_refused(conn: Any, k: Kitchen) -> None:
    with pytest.raises(psycopg.errors.NotNullViolation):
        add_task(conn, k, allergens=None)


def test_changing_allergens_is_a_change(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k)
    conn.execute("update tasks set allergens = '{nuts}' where id = %s", (tid,))
    row = task_row(conn, tid)
    assert (row["allergens"], row["version"]) == (["nuts"], 2)
    conn.execute("update tasks set allergens = '{nuts}' where id = %s", (tid,))
    assert task_row(conn, tid)["version"] == 2


def test_a_display_reads_allergens_but_cannot_change_them(conn: Any, k: Kitchen) -> None:
    tid = add_task(conn, k, allergens=["fish"])
    with as_claims(conn, device_claims(k.tenant_id, k.kitchen_id)):
        row = conn.execute("select allergens from tasks where id = %s", (tid,)).fetchone()
        assert row == {"allergens": ["fish"]}
        n = conn.execute("update tasks set allergens = '{}' where id = %s", (tid,)).rowcount
        assert n == 0
    assert task_row(conn, tid)["allergens"] == ["fish"]


def test_published_to_realtime_with_the_rest_of_the_row(conn: Any) -> None:
    row = conn.execute(
        "select 'allergens' = any(attnames) as has from pg_publication_tables "
        "where pubname = 'supabase_realtime' and tablename = 'tasks'"
    ).fetchone()
    assert row == {"has": True}


def test_through_rest_a_bad_word_is_a_400_that_names_it(
    stack: LocalStack, kitchen: Kitchen
) -> None:
    key = stack.service_role_key
    h = {"apikey": key, "Authorization": f"Bearer {key}", "Prefer": "return=representation"}
    body = {"tenant_id": kitchen.tenant_id, "kitchen_id": kitchen.kitchen_id, "title": "Satay"}
    r = httpx.post(f"{stack.url}/rest/v1/tasks", json={**body, "allergens": ["peanut"]}, headers=h)
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["code"] == "23514" and "unknown allergen 'peanut'" in err["message"]
    assert "peanuts" in (err["hint"] or "")
    r = httpx.post(
        f"{stack.url}/rest/v1/tasks", json={**body, "allergens": ["peanuts", "soya"]}, headers=h
    )
    assert r.status_code == 201, r.text
    assert r.json()[0]["allergens"] == ["peanuts", "soya"]
    with connect(stack.db_dsn) as c:
        assert task_row(c, r.json()[0]["id"])["allergens"] == ["peanuts", "soya"]
