"""`/rest/v1` answers correctly or refuses clearly (issue 10): RPC results are shaped as
PostgREST shapes them (select, filters, order, limit/offset, Range, Prefer count), and
what the local subset does not implement is a PostgREST-shaped error, never a silently
different result."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from caterking_server.stack import LocalStack
from tests.pg import Kitchen, add_task, connect
from tests.server.helpers import service_client


@pytest.fixture(scope="module", autouse=True)
def functions(stack: LocalStack) -> None:
    with connect(stack.db_dsn) as conn:
        conn.execute(
            """
            create or replace function public.rt_menu(p_n int)
            returns table (n int, dish text, course text) language sql stable as $$
              select g, 'dish ' || g, case when g % 2 = 0 then 'main' else 'starter' end
              from generate_series(1, p_n) g $$;
            create or replace function public.rt_squares(p_n int) returns setof int
            language sql stable as $$ select g * g from generate_series(1, p_n) g $$;
            create or replace function public.rt_one(p_n int) returns int
            language sql stable as $$ select p_n + 1 $$;
            grant execute on function public.rt_menu(int), public.rt_squares(int),
              public.rt_one(int) to anon, authenticated, service_role;
            notify pgrst, 'reload schema';
            """
        )


def h(stack: LocalStack, **extra: str) -> dict[str, str]:
    key = stack.service_role_key
    return {"apikey": key, "Authorization": f"Bearer {key}", **extra}


def rpc(
    stack: LocalStack, fn: str, body: Any = None, *, params: Any = None, **headers: str
) -> httpx.Response:
    return httpx.post(
        f"{stack.url}/rest/v1/rpc/{fn}", json=body, params=params, headers=h(stack, **headers)
    )


def test_rpc_rows_take_select_filters_order_paging_and_count(stack: LocalStack) -> None:
    r = rpc(
        stack,
        "rt_menu",
        {"p_n": 10},
        params={
            "select": "n,dish",
            "course": "eq.main",
            "order": "n.desc",
            "limit": 2,
            "offset": 1,
        },
        Prefer="count=exact",
    )
    assert r.status_code == 206, r.text
    assert r.json() == [{"n": 8, "dish": "dish 8"}, {"n": 6, "dish": "dish 6"}]
    assert r.headers["Content-Range"] == "1-2/5"
    # Without count: all rows that pass, and no total.
    r = rpc(stack, "rt_menu", {"p_n": 4}, params={"or": "(n.eq.1,n.gte.4)"})
    assert r.status_code == 200
    assert [row["n"] for row in r.json()] == [1, 4]
    assert r.headers["Content-Range"] == "0-1/*"
    # GET: the function's own parameters, the rest filters.
    r = httpx.get(
        f"{stack.url}/rest/v1/rpc/rt_menu",
        params={"p_n": "6", "n": "gt.4", "select": "n"},
        headers=h(stack),
    )
    assert r.json() == [{"n": 5}, {"n": 6}]
    # The Range header pages too.
    r = rpc(stack, "rt_menu", {"p_n": 10}, params={"select": "n"}, Range="2-4")
    assert [row["n"] for row in r.json()] == [3, 4, 5]
    # One object.
    r = rpc(
        stack,
        "rt_menu",
        {"p_n": 10},
        params={"n": "eq.3"},
        Accept="application/vnd.pgrst.object+json",
    )
    assert r.json() == {"n": 3, "dish": "dish 3", "course": "starter"}


def test_rpc_through_the_official_client(stack: LocalStack) -> None:
    c = service_client(stack)
    res = (
        c.rpc("rt_menu", {"p_n": 10}, count="exact")
        .select("n")
        .eq("course", "starter")
        .order("n", desc=True)
        .limit(3)
        .execute()
    )
    assert res.data == [{"n": 9}, {"n": 7}, {"n": 5}]
    assert res.count == 5


def test_rpc_shaping_that_cannot_apply_is_refused(stack: LocalStack) -> None:
    r = rpc(stack, "rt_squares", {"p_n": 5}, params={"limit": 2, "offset": 1})
    assert r.json() == [4, 9]
    for params in ({"n": "eq.4"}, {"select": "n"}, {"order": "n"}):
        r = rpc(stack, "rt_squares", {"p_n": 5}, params=params)
        assert r.status_code == 400 and r.json()["code"] == "PGRST127", (params, r.text)
    r = rpc(stack, "rt_one", {"p_n": 1}, params={"limit": 1})
    assert r.status_code == 400 and r.json()["code"] == "PGRST127"
    assert rpc(stack, "rt_one", {"p_n": 1}).json() == 2
    r = rpc(stack, "rt_menu", {"p_n": 3}, params={"nope": "eq.1"})
    assert r.status_code == 400 and r.json()["code"] == "42703"


@pytest.mark.parametrize(
    "accept",
    ["text/csv", "application/vnd.pgrst.plan+json", "application/vnd.pgrst.plan", "text/xml"],
)
def test_media_types_the_stack_does_not_produce_are_refused(
    stack: LocalStack, kitchen: Kitchen, accept: str
) -> None:
    for path in ("/rest/v1/tasks", "/rest/v1/rpc/rt_menu?p_n=2"):
        r = httpx.get(f"{stack.url}{path}", headers=h(stack, Accept=accept))
        assert r.status_code == 406, (path, r.text)
        assert r.json()["code"] == "PGRST107"
        assert r.json()["message"] == f"None of these media types are available: {accept}"


def test_acceptable_json_is_chosen_among_several(stack: LocalStack, kitchen: Kitchen) -> None:
    for accept in ("text/csv, application/json", "*/*", "application/*", "text/csv;q=0.9, */*"):
        r = httpx.get(f"{stack.url}/rest/v1/tasks?limit=1", headers=h(stack, Accept=accept))
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    r = httpx.get(f"{stack.url}/rest/v1/tasks", headers=h(stack, Accept="application/json;q=0"))
    assert r.status_code == 406


def test_range_header_pages_tables(stack: LocalStack, kitchen: Kitchen) -> None:
    with connect(stack.db_dsn) as conn:
        for n in range(4):
            add_task(conn, kitchen, title=f"Ranged {n}")
    url = f"{stack.url}/rest/v1/tasks?kitchen_id=eq.{kitchen.kitchen_id}&order=title&select=title"
    r = httpx.get(url, headers=h(stack, Range="1-2"))
    assert [t["title"] for t in r.json()] == ["Ranged 1", "Ranged 2"]
    assert r.headers["Content-Range"] == "1-2/*"
    r = httpx.get(url, headers=h(stack, Range="3-"))
    assert [t["title"] for t in r.json()] == ["Ranged 3"]
    r = httpx.get(url, headers=h(stack, Range="5-2"))
    assert r.status_code == 416 and r.json()["code"] == "PGRST103"


def test_limited_writes_are_refused_not_applied_to_every_row(
    stack: LocalStack, kitchen: Kitchen
) -> None:
    with connect(stack.db_dsn) as conn:
        ids = [add_task(conn, kitchen, title=f"Keep {n}") for n in range(3)]
    where = f"kitchen_id=eq.{kitchen.kitchen_id}"
    for method, query, extra in (
        ("PATCH", f"{where}&limit=1&order=title", {}),
        ("DELETE", f"{where}&limit=1", {}),
        ("DELETE", where, {"Range": "0-0"}),
    ):
        r = httpx.request(
            method,
            f"{stack.url}/rest/v1/tasks?{query}",
            json={"notes": "changed"} if method == "PATCH" else None,
            headers=h(stack, **extra),
        )
        assert r.status_code == 400 and r.json()["code"] == "PGRST127", (method, r.text)
    with connect(stack.db_dsn) as conn:
        rows = conn.execute("select notes from tasks where id = any(%s::uuid[])", (ids,)).fetchall()
    assert [row["notes"] for row in rows] == ["", "", ""]


def test_oversized_bodies_are_413_not_500(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    big = b'{"notes": "' + b"x" * (17 << 20) + b'"}'
    for path in ("/rest/v1/tasks", "/rest/v1/rpc/rt_one", "/rest/v1/tasks?id=eq.1"):
        method = "PATCH" if "?" in path else "POST"
        r = httpx.request(
            method,
            f"{stack.url}{path}",
            content=big,
            headers=h(stack, **{"Content-Type": "application/json"}),
        )
        assert r.status_code == 413, (path, r.text[:200])
        assert r.json()["code"] == "PGRST102"
    r = httpx.post(
        f"{stack.url}/auth/v1/token?grant_type=password",
        content=b'{"email": "' + b"x" * (2 << 20) + b'"}',
        headers={"apikey": stack.anon_key, "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error_code"] == "request_too_large"
    assert not [rec for rec in caplog.records if rec.exc_info]


def test_preferences_the_stack_lacks_are_refused(stack: LocalStack, kitchen: Kitchen) -> None:
    url = f"{stack.url}/rest/v1/tasks?kitchen_id=eq.{kitchen.kitchen_id}"
    for prefer in ("return=headers-only", "timezone=Europe/London"):
        r = httpx.patch(url, json={"notes": "x"}, headers=h(stack, Prefer=prefer))
        assert r.status_code == 400 and r.json()["code"] == "PGRST127", prefer
    r = httpx.get(url, headers=h(stack, Prefer="handling=strict, count=sometimes"))
    assert r.status_code == 400 and r.json() == {
        "code": "PGRST122",
        "message": "Invalid preferences given with handling=strict",
        "details": "Invalid preferences: count=sometimes",
        "hint": None,
    }
    # Lenient (the default): an unknown preference is ignored, as PostgREST does.
    assert httpx.get(url, headers=h(stack, Prefer="count=sometimes")).status_code == 200


def test_max_affected_with_strict_handling_rolls_back(stack: LocalStack, kitchen: Kitchen) -> None:
    with connect(stack.db_dsn) as conn:
        for n in range(3):
            add_task(conn, kitchen, title=f"Capped {n}")
    c = service_client(stack)
    with pytest.raises(Exception) as err:
        (
            c.table("tasks")
            .update({"notes": "all of them"})
            .eq("kitchen_id", kitchen.kitchen_id)
            .max_affected(2)
            .execute()
        )
    assert "PGRST124" in str(err.value)
    rows = c.table("tasks").select("notes").eq("kitchen_id", kitchen.kitchen_id).execute().data
    assert {r["notes"] for r in rows} == {""}
    res = (
        c.table("tasks")
        .update({"notes": "three"})
        .eq("kitchen_id", kitchen.kitchen_id)
        .max_affected(3)
        .execute()
    )
    assert len(res.data) == 3
