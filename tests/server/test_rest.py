"""`/rest/v1` driven by supabase-py's postgrest client over real sockets."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import acreate_client

from caterking_server import tokens
from caterking_server.stack import LocalStack
from tests.pg import Kitchen, add_task, connect
from tests.server.helpers import (
    PASSWORD,
    admin_client,
    anon_client,
    create_user,
    display_client,
    display_meta,
    options,
    service_client,
)


def _tasks(stack: LocalStack, k: Kitchen, specs: list[dict[str, Any]]) -> list[str]:
    with connect(stack.db_dsn) as conn:
        return [add_task(conn, k, **spec) for spec in specs]


@pytest.fixture
def board(stack: LocalStack, kitchen: Kitchen) -> dict[str, str]:
    specs = [
        {"title": "Dice onions", "quantity": 5, "unit": "kg", "station": "Prep", "priority": 0},
        {"title": "Roast 40 chicken thighs", "quantity": 40, "station": "Grill", "priority": 2},
        {"title": "Bake lemon tarts", "quantity": 48, "station": "Pastry", "priority": 1},
        {
            "title": "Make hollandaise",
            "quantity": None,
            "station": "Sauce",
            "priority": 0,
            "notes": '50% less salt, (no) "commas"',
        },
        {
            "title": "Whip cream",
            "quantity": 3,
            "unit": "L",
            "station": "Pastry",
            "priority": 0,
            "due_at": "2030-01-01T10:00:00+00:00",
        },
    ]
    ids = _tasks(stack, kitchen, specs)
    return {s["title"]: i for s, i in zip(specs, ids, strict=True)}


def titles(rows: list[dict[str, Any]]) -> set[str]:
    return {r["title"] for r in rows}


def test_reads_with_every_filter(
    stack: LocalStack, kitchen: Kitchen, board: dict[str, str]
) -> None:
    c = service_client(stack)

    def t() -> Any:
        return c.table("tasks").select("title").eq("tenant_id", kitchen.tenant_id)

    assert titles(t().eq("station", "Pastry").execute().data) == {"Bake lemon tarts", "Whip cream"}
    assert len(t().neq("station", "Pastry").execute().data) == 3
    assert titles(t().gt("quantity", 40).execute().data) == {"Bake lemon tarts"}
    assert titles(t().gte("quantity", 40).execute().data) == {
        "Bake lemon tarts",
        "Roast 40 chicken thighs",
    }
    assert titles(t().lt("quantity", 5).execute().data) == {"Whip cream"}
    assert titles(t().lte("quantity", 5).execute().data) == {"Whip cream", "Dice onions"}
    assert titles(t().in_("station", ["Grill", "Sauce"]).execute().data) == {
        "Roast 40 chicken thighs",
        "Make hollandaise",
    }
    assert titles(t().in_("notes", ['50% less salt, (no) "commas"']).execute().data) == {
        "Make hollandaise"
    }
    assert titles(t().is_("quantity", "null").execute().data) == {"Make hollandaise"}
    assert titles(t().not_.is_("due_at", "null").execute().data) == {"Whip cream"}
    assert titles(t().like("title", "%onion%").execute().data) == {"Dice onions"}
    assert titles(t().ilike("title", "*LEMON*").execute().data) == {"Bake lemon tarts"}
    assert titles(t().not_.eq("priority", 0).execute().data) == {
        "Roast 40 chicken thighs",
        "Bake lemon tarts",
    }
    assert titles(t().not_.in_("station", ["Pastry", "Prep"]).execute().data) == {
        "Roast 40 chicken thighs",
        "Make hollandaise",
    }
    # Repeated keys are ANDed.
    assert titles(t().neq("station", "Pastry").neq("station", "Prep").execute().data) == {
        "Roast 40 chicken thighs",
        "Make hollandaise",
    }
    # or / nested and / not.
    got = t().or_("priority.eq.2,and(station.eq.Pastry,quantity.lt.10)").execute().data
    assert titles(got) == {"Roast 40 chicken thighs", "Whip cream"}
    got = t().or_('title.eq."Dice onions",station.in.(Sauce,Grill)').execute().data
    assert titles(got) == {"Dice onions", "Make hollandaise", "Roast 40 chicken thighs"}
    got = t().or_("station.not.eq.Pastry,priority.eq.1").neq("station", "Prep").execute().data
    assert titles(got) == {"Roast 40 chicken thighs", "Make hollandaise", "Bake lemon tarts"}
    r = httpx.get(
        f"{stack.url}/rest/v1/tasks",
        params={
            "select": "title",
            "tenant_id": f"eq.{kitchen.tenant_id}",
            "not.or": "(station.eq.Pastry,priority.gt.0)",
        },
        headers={
            "apikey": stack.service_role_key,
            "Authorization": f"Bearer {stack.service_role_key}",
        },
    )
    assert r.status_code == 200 and titles(r.json()) == {"Dice onions", "Make hollandaise"}


def test_select_order_limit_offset_count(
    stack: LocalStack, kitchen: Kitchen, board: dict[str, str]
) -> None:
    c = service_client(stack)
    base = (
        c.table("tasks")
        .select("t:title, quantity", count="exact")
        .eq("tenant_id", kitchen.tenant_id)
    )
    res = base.order("quantity", desc=True, nullsfirst=True).limit(2).offset(1).execute()
    assert [r["t"] for r in res.data] == ["Bake lemon tarts", "Roast 40 chicken thighs"]
    assert set(res.data[0]) == {"t", "quantity"}
    assert res.count == 5
    res = (
        c.table("tasks")
        .select("title")
        .eq("tenant_id", kitchen.tenant_id)
        .order("quantity", nullsfirst=False)
        .order("title")
        .execute()
    )
    assert [r["title"] for r in res.data][-1] == "Make hollandaise"
    res = (
        c.table("tasks")
        .select("*", count="exact")
        .eq("tenant_id", kitchen.tenant_id)
        .range(0, 1)
        .execute()
    )
    assert len(res.data) == 2 and res.count == 5 and "version" in res.data[0]
    # Types come back as JSON numbers, ISO timestamps, null.
    row = (
        c.table("tasks")
        .select("quantity,due_at,priority")
        .eq("id", board["Whip cream"])
        .single()
        .execute()
        .data
    )
    assert row == {"quantity": 3, "due_at": "2030-01-01T10:00:00+00:00", "priority": 0}
    # Empty result + count.
    r = httpx.get(
        f"{stack.url}/rest/v1/tasks?select=id&tenant_id=eq.{uuid.uuid4()}",
        headers={**_svc(stack), "Prefer": "count=exact"},
    )
    assert r.status_code == 200 and r.json() == [] and r.headers["Content-Range"] == "*/0"
    # HEAD.
    r = httpx.head(
        f"{stack.url}/rest/v1/tasks?tenant_id=eq.{kitchen.tenant_id}",
        headers={**_svc(stack), "Prefer": "count=exact"},
    )
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Range"] == "0-4/5"
    res = (
        c.table("tasks")
        .select("id", count="exact", head=True)
        .eq("tenant_id", kitchen.tenant_id)
        .execute()
    )
    assert res.count == 5


def _svc(stack: LocalStack) -> dict[str, str]:
    return {"apikey": stack.service_role_key, "Authorization": f"Bearer {stack.service_role_key}"}


def test_single(stack: LocalStack, kitchen: Kitchen, board: dict[str, str]) -> None:
    c = service_client(stack)
    row = c.table("tasks").select("title").eq("id", board["Dice onions"]).single().execute()
    assert row.data == {"title": "Dice onions"}
    for q in (
        c.table("tasks").select("id").eq("tenant_id", kitchen.tenant_id),
        c.table("tasks").select("id").eq("id", str(uuid.uuid4())),
    ):
        with pytest.raises(APIError) as err:
            q.single().execute()
        assert err.value.code == "PGRST116"
        assert err.value.message == "JSON object requested, multiple (or no) rows returned"
    assert (
        c.table("tasks").select("id").eq("id", str(uuid.uuid4())).maybe_single().execute() is None
    )


def test_insert_bulk_upsert_update_delete(stack: LocalStack, kitchen: Kitchen) -> None:
    c = service_client(stack)
    base = {"tenant_id": kitchen.tenant_id, "kitchen_id": kitchen.kitchen_id}
    one = c.table("tasks").insert({**base, "title": "Slice leeks", "quantity": 4}).execute()
    assert len(one.data) == 1 and one.data[0]["version"] == 1 and one.data[0]["status"] == "pending"
    bulk = (
        c.table("tasks")
        .insert(
            [
                {**base, "title": "Mince garlic", "station": "Prep", "priority": 0},
                {**base, "title": "Temper chocolate", "station": "Pastry", "priority": 1},
            ]
        )
        .execute()
    )
    assert titles(bulk.data) == {"Mince garlic", "Temper chocolate"}
    mixed = (
        c.table("tasks")
        .insert(
            [
                {**base, "title": "Zest lemons", "quantity": 12},
                {**base, "title": "Toast almonds", "station": "Pastry", "notes": 'say "hi", (ok)'},
            ],
            default_to_null=False,
        )
        .execute()
    )
    by_title = {r["title"]: r for r in mixed.data}
    assert by_title["Zest lemons"]["station"] == "" and by_title["Zest lemons"]["priority"] == 0
    assert by_title["Toast almonds"]["quantity"] is None
    assert by_title["Toast almonds"]["notes"] == 'say "hi", (ok)'
    c.table("tasks").delete().in_("id", [r["id"] for r in mixed.data]).execute()
    minimal = (
        c.table("tasks").insert({**base, "title": "Brine pork"}, returning="minimal").execute()
    )
    assert minimal.data == []
    tid = one.data[0]["id"]

    # Upsert: merge on the primary key, then ignore-duplicates.
    up = c.table("tasks").upsert({**base, "id": tid, "title": "Slice 4 kg leeks"}).execute()
    assert up.data[0]["title"] == "Slice 4 kg leeks" and up.data[0]["version"] == 2
    ign = (
        c.table("tasks")
        .upsert({**base, "id": tid, "title": "ignored"}, ignore_duplicates=True)
        .execute()
    )
    assert ign.data == []
    staff_id = kitchen.staff[0]
    ups = (
        c.table("staff")
        .upsert(
            {"id": staff_id, **base, "display_name": "Renamed Chef", "initials": "RC"},
            on_conflict="id",
        )
        .execute()
    )
    assert ups.data[0]["display_name"] == "Renamed Chef"

    upd = c.table("tasks").update({"station": "Prep", "priority": 2}).eq("id", tid).execute()
    assert upd.data[0]["priority"] == 2 and upd.data[0]["version"] == 3
    upd_min = c.table("tasks").update({"notes": "x"}, returning="minimal").eq("id", tid).execute()
    assert upd_min.data == []
    gone = (
        c.table("tasks")
        .delete()
        .eq("title", "Mince garlic")
        .eq("tenant_id", kitchen.tenant_id)
        .execute()
    )
    assert titles(gone.data) == {"Mince garlic"}
    r = httpx.delete(
        f"{stack.url}/rest/v1/tasks?title=eq.Brine%20pork&tenant_id=eq.{kitchen.tenant_id}",
        headers=_svc(stack),
    )
    assert r.status_code == 204 and r.content == b""
    left = c.table("tasks").select("title").eq("tenant_id", kitchen.tenant_id).execute().data
    assert titles(left) == {"Slice 4 kg leeks", "Temper chocolate"}
    # Status codes and the Prefer header on the wire.
    r = httpx.post(
        f"{stack.url}/rest/v1/tasks", json={**base, "title": "Plain"}, headers=_svc(stack)
    )
    assert r.status_code == 201 and r.content == b""
    r = httpx.patch(
        f"{stack.url}/rest/v1/tasks?title=eq.Plain&tenant_id=eq.{kitchen.tenant_id}",
        json={"notes": "n"},
        headers={**_svc(stack), "Prefer": "return=representation,count=exact"},
    )
    assert r.status_code == 200 and r.json()[0]["notes"] == "n"
    assert r.headers["Content-Range"] == "*/1"


def test_write_errors(stack: LocalStack, kitchen: Kitchen, board: dict[str, str]) -> None:
    c = service_client(stack)
    base = {"tenant_id": kitchen.tenant_id, "kitchen_id": kitchen.kitchen_id}
    with pytest.raises(APIError) as err:
        c.table("tasks").insert({**base, "id": board["Dice onions"], "title": "dup"}).execute()
    assert err.value.code == "23505" and "tasks_pkey" in (err.value.message or "")
    assert err.value.details == f"Key (id)=({board['Dice onions']}) already exists."
    with pytest.raises(APIError) as err:
        c.table("tasks").insert({**base, "title": "x", "priority": 7}).execute()
    assert err.value.code == "23514"
    with pytest.raises(APIError) as err:
        c.table("tasks").insert({**base, "title": "x", "no_such_col": 1}).execute()
    assert err.value.code == "PGRST204"
    with pytest.raises(APIError) as err:
        c.table("tasks").insert({**base, "title": "x", "priority": "high"}).execute()
    assert err.value.code == "22P02"
    r = httpx.post(
        f"{stack.url}/rest/v1/tasks",
        content=b"{not json",
        headers={**_svc(stack), "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["code"] == "PGRST102"
    assert set(r.json()) == {"code", "message", "details", "hint"}
    with pytest.raises(APIError) as err:
        c.table("no_such_table").select("*").execute()
    assert err.value.code == "PGRST205"
    r = httpx.get(f"{stack.url}/rest/v1/no_such_table", headers=_svc(stack))
    assert r.status_code == 404
    r = httpx.get(f"{stack.url}/rest/v1/tasks?select=tenant:tenants(name)", headers=_svc(stack))
    assert r.status_code == 400 and r.json()["code"] == "PGRST100"
    r = httpx.get(f"{stack.url}/rest/v1/tasks", headers={**_svc(stack), "Accept-Profile": "auth"})
    assert r.status_code == 406 and r.json()["code"] == "PGRST106"
    r = httpx.get(f"{stack.url}/rest/v1/tasks?priority=between.1", headers=_svc(stack))
    assert r.status_code == 400 and r.json()["code"] == "PGRST100"


def test_rpc_claim_task(stack: LocalStack, kitchen: Kitchen, board: dict[str, str]) -> None:
    c = display_client(stack, kitchen)
    op = str(uuid.uuid4())
    args = {
        "p_task_id": board["Dice onions"],
        "p_staff_id": kitchen.staff[0],
        "p_op_id": op,
        "p_device": "display-1",
    }
    res = c.rpc("claim_task", args).execute()
    assert res.data["outcome"] == "applied" and res.data["task"]["status"] == "claimed"
    assert res.data["task"]["version"] == 2
    again = c.rpc("claim_task", args).execute()
    assert again.data["outcome"] == "duplicate"
    other = c.rpc(
        "claim_task", {**args, "p_staff_id": kitchen.staff[1], "p_op_id": str(uuid.uuid4())}
    ).execute()
    assert other.data["outcome"] == "conflict"
    with pytest.raises(APIError) as err:
        c.rpc("claim_task", {"p_task_id": board["Dice onions"]}).execute()
    assert err.value.code == "PGRST202"
    assert "claim_task" in (err.value.message or "") and err.value.hint
    with pytest.raises(APIError) as err:
        c.rpc("no_such_fn", {}).execute()
    assert err.value.code == "PGRST202"
    with pytest.raises(APIError) as err:
        c.rpc("claim_task", {**args, "p_task_id": "not-a-uuid"}).execute()
    assert err.value.code == "22P02"
    # GET rpc runs read-only: a writing function fails with 25006 → 405.
    r = httpx.get(
        f"{stack.url}/rest/v1/rpc/claim_task",
        params={**args, "p_op_id": str(uuid.uuid4())},
        headers=_svc(stack),
    )
    assert r.status_code == 405 and r.json()["code"] == "25006"


async def test_rpc_and_reads_with_async_client(
    stack: LocalStack, kitchen: Kitchen, board: dict[str, str]
) -> None:
    _, email = create_user(stack, app_metadata=display_meta(kitchen))
    c = await acreate_client(stack.url, stack.anon_key, options())
    await c.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    rows = (await c.table("tasks").select("id,title").order("title").execute()).data
    assert titles(rows) == set(board)
    res = await c.rpc(
        "complete_task",
        {
            "p_task_id": board["Whip cream"],
            "p_staff_id": kitchen.staff[1],
            "p_op_id": str(uuid.uuid4()),
            "p_device": "d",
        },
    ).execute()
    assert res.data["outcome"] == "applied" and res.data["task"]["status"] == "done"


def test_rls_display_sees_only_its_tenant(
    stack: LocalStack, kitchen: Kitchen, board: dict[str, str]
) -> None:
    with connect(stack.db_dsn) as conn:
        from tests.pg import seed_kitchen

        other = seed_kitchen(conn)
        other_task = add_task(conn, other, title="Other tenant's secret")
    mine = display_client(stack, kitchen)
    assert titles(mine.table("tasks").select("title").execute().data) == set(board)
    assert {r["id"] for r in mine.table("staff").select("id").execute().data} == set(kitchen.staff)
    assert mine.table("tasks").select("*").eq("id", other_task).execute().data == []
    # Cannot act on another tenant's task: rejected, learns nothing.
    res = mine.rpc(
        "claim_task",
        {
            "p_task_id": other_task,
            "p_staff_id": other.staff[0],
            "p_op_id": str(uuid.uuid4()),
            "p_device": "d",
        },
    ).execute()
    assert res.data == {"outcome": "rejected", "task": None, "reason": "unknown_task"}
    # Updates/deletes hidden by RLS are not errors: 200 [].
    assert mine.table("tasks").update({"title": "hacked"}).eq("id", other_task).execute().data == []
    # A display may not write tasks directly even in its own tenant.
    assert (
        mine.table("tasks")
        .update({"title": "hacked"})
        .eq("id", board["Dice onions"])
        .execute()
        .data
        == []
    )
    with pytest.raises(APIError) as err:
        mine.table("tasks").insert(
            {"tenant_id": other.tenant_id, "kitchen_id": other.kitchen_id, "title": "planted"}
        ).execute()
    assert err.value.code == "42501"
    r = httpx.post(
        f"{stack.url}/rest/v1/tasks",
        json={"tenant_id": other.tenant_id, "kitchen_id": other.kitchen_id, "title": "planted"},
        headers={
            "apikey": stack.anon_key,
            "Authorization": f"Bearer {mine.auth.get_session().access_token}",
        },  # type: ignore[union-attr]
    )
    assert r.status_code == 403
    # Anon sees nothing and may not write.
    anon = anon_client(stack)
    with pytest.raises(APIError) as err:
        anon.table("tasks").select("*").execute()
    assert err.value.code == "42501"
    # A back-office user of the tenant may write tasks of its tenant only.
    office = admin_client(stack, kitchen)
    ok = (
        office.table("tasks")
        .insert(
            {
                "tenant_id": kitchen.tenant_id,
                "kitchen_id": kitchen.kitchen_id,
                "title": "From the office",
            }
        )
        .execute()
    )
    assert ok.data[0]["title"] == "From the office"
    with pytest.raises(APIError):
        office.table("tasks").insert(
            {"tenant_id": other.tenant_id, "kitchen_id": other.kitchen_id, "title": "x"}
        ).execute()


def test_jwt_errors_and_missing_apikey(stack: LocalStack) -> None:
    url = f"{stack.url}/rest/v1/tasks"
    r = httpx.get(url)
    assert r.status_code == 401
    assert r.json()["message"] == "No API key found in request"
    r = httpx.get(url, headers={"apikey": "garbage"})
    assert r.status_code == 401
    expired = tokens.sign(
        {"role": "authenticated", "sub": str(uuid.uuid4()), "exp": int(time.time()) - 1},
        stack.jwt_secret,
    )
    r = httpx.get(url, headers={"apikey": stack.anon_key, "Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    assert r.json() == {"code": "PGRST303", "message": "JWT expired", "details": None, "hint": None}
    forged = tokens.sign(
        {"role": "service_role", "exp": 2**31}, "a-different-secret-of-sufficient-length-1234"
    )
    r = httpx.get(url, headers={"apikey": stack.anon_key, "Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["code"] == "PGRST301"
    sneaky = tokens.sign({"role": "postgres", "exp": 2**31}, stack.jwt_secret)
    r = httpx.get(url, headers={"apikey": stack.anon_key, "Authorization": f"Bearer {sneaky}"})
    assert r.status_code == 403
    # The bearer falls back to the apikey.
    r = httpx.get(f"{url}?select=id&limit=1", headers={"apikey": stack.service_role_key})
    assert r.status_code == 200


INJECTIONS = [
    ("select", 'id,"title"; drop table tasks; --'),
    ("select", "id,(select 1)"),
    ("select", "id::text; drop table tasks"),
    ("order", "title;drop table tasks"),
    ("order", "(select 1)"),
    ('title"; drop table tasks; --', "eq.x"),
    ("or", "(title.eq.x);drop table tasks;--"),
    ("or", "(1.eq.1)"),
    ("limit", "1; drop table tasks"),
]


@pytest.mark.parametrize(("key", "value"), INJECTIONS)
def test_injection_attempts_fail_cleanly(
    stack: LocalStack, kitchen: Kitchen, board: dict[str, str], key: str, value: str
) -> None:
    r = httpx.get(f"{stack.url}/rest/v1/tasks", params={key: value}, headers=_svc(stack))
    assert r.status_code in (400, 404), r.text
    assert set(r.json()) == {"code", "message", "details", "hint"}
    c = service_client(stack)
    assert len(
        c.table("tasks").select("id").eq("tenant_id", kitchen.tenant_id).execute().data
    ) == len(board)


def test_injection_in_values_is_data(
    stack: LocalStack, kitchen: Kitchen, board: dict[str, str]
) -> None:
    c = service_client(stack)
    evil = "x'); drop table tasks; --"
    assert c.table("tasks").select("id").eq("title", evil).execute().data == []
    assert c.table("tasks").select("id").in_("title", [evil, "a)b"]).execute().data == []
    assert c.table("tasks").select("id").or_(f'title.eq."{evil}"').execute().data == []
    row = (
        c.table("tasks")
        .insert({"tenant_id": kitchen.tenant_id, "kitchen_id": kitchen.kitchen_id, "title": evil})
        .execute()
    )
    assert row.data[0]["title"] == evil
    r = httpx.post(
        f"{stack.url}/rest/v1/rpc/claim_task",
        json={"p_task_id": "x'); drop table tasks; --"},
        headers=_svc(stack),
    )
    assert r.status_code == 404  # no such overload (missing args)
    r = httpx.post(
        f"{stack.url}/rest/v1/rpc/claim_task",
        json={'p_task_id") => null; drop table tasks; --': 1},
        headers=_svc(stack),
    )
    assert r.status_code == 404 and r.json()["code"] == "PGRST202"
    assert (
        len(c.table("tasks").select("id").eq("tenant_id", kitchen.tenant_id).execute().data)
        == len(board) + 1
    )


def test_bad_requests_do_not_hurt_others(stack: LocalStack, kitchen: Kitchen) -> None:
    """A DB error, a slow request and garbage in one request never break the next."""
    with httpx.Client(base_url=stack.url, headers=_svc(stack)) as h:
        for _ in range(20):
            assert h.get("/rest/v1/tasks?priority=eq.notanumber").status_code == 400
            assert h.post("/rest/v1/tasks", content=b"\xff\xfe").status_code == 400
        ok = h.get(f"/rest/v1/tasks?select=id&tenant_id=eq.{kitchen.tenant_id}")
        assert ok.status_code == 200
    body = json.dumps({"x": "y" * 10})
    assert body


# -- reviewer findings: permanent errors are 400, not retryable 503 -------------------------


def test_nul_byte_in_value_is_400_not_retried(
    stack: LocalStack, kitchen: Kitchen, board: dict[str, str]
) -> None:
    r = httpx.get(f"{stack.url}/rest/v1/tasks?title=eq.a%00b", headers=_svc(stack))
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "PGRST100" and "NUL" in r.json()["message"]
    c = service_client(stack)
    started = time.monotonic()
    with pytest.raises(APIError) as err:
        c.table("tasks").select("id").eq("title", "a\x00b").execute()
    assert err.value.code == "PGRST100"
    assert time.monotonic() - started < 2  # no 503 retry loop


def test_percent_in_select_alias_refused(
    stack: LocalStack, kitchen: Kitchen, board: dict[str, str]
) -> None:
    c = service_client(stack)
    with pytest.raises(APIError) as err:
        c.table("tasks").select("pct%s:title").eq("tenant_id", kitchen.tenant_id).execute()
    assert err.value.code == "PGRST100"
    assert "alias" in str(err.value.details)
    ok = c.table("tasks").select("pct:title").eq("tenant_id", kitchen.tenant_id).execute()
    assert {row["pct"] for row in ok.data} == set(board)


def _nested_or(depth: int, leaf: str) -> str:
    return "(" + "and(" * depth + leaf + ")" * depth + ")"


def test_deep_nesting_is_400(stack: LocalStack, kitchen: Kitchen, board: dict[str, str]) -> None:
    h = _svc(stack)
    url = f"{stack.url}/rest/v1/tasks"
    ok = httpx.get(
        url,
        params={
            "select": "title",
            "tenant_id": f"eq.{kitchen.tenant_id}",
            "or": _nested_or(40, "title.eq.Whip cream"),
        },
        headers=h,
    )
    assert ok.status_code == 200 and ok.json() == [{"title": "Whip cream"}], ok.text
    r = httpx.get(url, params={"or": _nested_or(900, "title.eq.x")}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "PGRST100", r.text
    deep = b"[" * 200_000
    for path in ("/rest/v1/tasks", "/rest/v1/rpc/claim_task"):
        r = httpx.post(
            f"{stack.url}{path}", content=deep, headers={**h, "Content-Type": "application/json"}
        )
        assert r.status_code == 400, (path, r.text)
        assert r.json()["code"] == "PGRST102"


def test_apikey_query_param_is_not_a_filter(
    stack: LocalStack, kitchen: Kitchen, board: dict[str, str]
) -> None:
    r = httpx.get(
        f"{stack.url}/rest/v1/tasks",
        params={
            "apikey": stack.service_role_key,
            "select": "id",
            "tenant_id": f"eq.{kitchen.tenant_id}",
        },
    )
    assert r.status_code == 200, r.text
    assert len(r.json()) == len(board)


def test_display_stays_in_its_kitchen_and_records_its_own_device(
    stack: LocalStack, kitchen: Kitchen, board: dict[str, str]
) -> None:
    """Issue 10 (items 5, 9) through the official client: a second kitchen of the same
    tenant is invisible to the first kitchen's display, and an action records the
    device of the display's account, whatever `p_device` says."""
    from tests.schema.test_kitchen_scope import add_kitchen

    with connect(stack.db_dsn) as conn:
        k2 = add_kitchen(conn, kitchen.tenant_id)
        other = add_task(conn, k2, title="Second kitchen's work")
    _, email = create_user(stack, app_metadata={**display_meta(kitchen), "device_name": "pass-1"})
    c = anon_client(stack)
    c.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert titles(c.table("tasks").select("title").execute().data) == set(board)
    assert {r["id"] for r in c.table("staff").select("id").execute().data} == set(kitchen.staff)
    assert [r["id"] for r in c.table("kitchens").select("id").execute().data] == [
        kitchen.kitchen_id
    ]
    res = c.rpc(
        "claim_task",
        {
            "p_task_id": other,
            "p_staff_id": k2.staff[0],
            "p_op_id": str(uuid.uuid4()),
            "p_device": "pass-1",
        },
    ).execute()
    assert res.data == {"outcome": "rejected", "task": None, "reason": "unknown_task"}
    res = c.rpc(
        "claim_task",
        {
            "p_task_id": board["Dice onions"],
            "p_staff_id": kitchen.staff[0],
            "p_op_id": str(uuid.uuid4()),
            "p_device": "the walk-in" * 100_000,
        },
    ).execute()
    assert res.data["outcome"] == "applied"
    assert res.data["task"]["claimed_device"] == "pass-1"
    # The tenant's back office sees both kitchens.
    admin = admin_client(stack, kitchen)
    assert other in {r["id"] for r in admin.table("tasks").select("id").execute().data}
