"""Each HTTP surface answers every failure in its own error shape, whatever raised it:
PostgREST's for /rest/v1, GoTrue's for /auth/v1; Kong answers a missing key first; the
router's own answers (a path no route has, a method a route does not take) stay the
router's, before any key is asked for."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import PoolTimeout

from caterking_server.stack import LocalStack
from tests.server.helpers import admin_headers, create_user


def rest(stack: LocalStack, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{stack.url}/rest/v1/{path}", **kw)


def keyed(stack: LocalStack) -> dict[str, str]:
    return {"apikey": stack.service_role_key}


def test_rest_methods_a_route_does_not_take(stack: LocalStack) -> None:
    for headers in ({}, keyed(stack)):  # PostgREST's 405 comes before the key check
        r = rest(stack, "PUT", "tasks", headers=headers)
        assert r.status_code == 405
        assert r.json() == {
            "code": "PGRST117",
            "message": "Unsupported HTTP method: PUT",
            "details": None,
            "hint": None,
        }
        r = rest(stack, "PATCH", "rpc/claim_task", headers=headers)
        assert r.status_code == 405 and r.json()["code"] == "PGRST101"
    r = rest(stack, "OPTIONS", "tasks", headers=keyed(stack))  # not a CORS preflight
    assert r.status_code == 405 and r.json()["code"] == "PGRST117"


def test_paths_no_route_has_are_the_routers_404(stack: LocalStack) -> None:
    for url in ("/rest/v1/tasks/extra", "/rest/v1", "/auth/v1/nothing", "/nothing"):
        r = httpx.get(f"{stack.url}{url}", headers=keyed(stack))
        assert r.status_code == 404, url
    r = httpx.put(f"{stack.url}/auth/v1/token")  # a method the route does not take
    assert r.status_code == 405


def test_rest_failures_in_postgrest_shape(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from caterking_server.rest import routes

    def failing(exc: BaseException) -> Any:
        def tx(*_args: Any, **_kwargs: Any) -> Any:
            raise exc

        return tx

    cases = [
        (PoolTimeout("busy"), 503, "PGRST003"),
        (psycopg.OperationalError("server closed the connection"), 503, "PGRST001"),
        (RuntimeError("surprise"), 500, "PGRST000"),
    ]
    for exc, status, code in cases:
        monkeypatch.setattr(routes, "request_tx", failing(exc))
        r = rest(stack, "GET", "tasks", headers=keyed(stack))
        assert r.status_code == status, r.text
        assert r.headers["Content-Type"].startswith("application/json")
        body = r.json()
        assert body["code"] == code and set(body) == {"code", "message", "details", "hint"}
        r = rest(stack, "HEAD", "tasks", headers=keyed(stack))
        assert r.status_code == status and r.content == b""


def test_auth_database_trouble_in_gotrue_shape(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from caterking_server.auth import users

    async def unreachable(*_args: Any) -> Any:
        raise psycopg.OperationalError("server closed the connection")

    uid, _ = create_user(stack)
    monkeypatch.setattr(users, "get_user", unreachable)
    headers = admin_headers(stack)
    r = httpx.get(f"{stack.url}/auth/v1/admin/users/{uid}", headers=headers)
    assert r.status_code == 503
    assert r.json() == {"code": "unexpected_failure", "message": "Database unavailable"}
    del headers["X-Supabase-Api-Version"]
    r = httpx.get(f"{stack.url}/auth/v1/admin/users/{uid}", headers=headers)
    assert r.status_code == 503
    assert r.json() == {
        "code": 503,
        "error_code": "unexpected_failure",
        "msg": "Database unavailable",
    }


def test_public_auth_endpoints_need_no_key(stack: LocalStack) -> None:
    for path in ("health", "settings"):
        assert httpx.get(f"{stack.url}/auth/v1/{path}").status_code == 200
    r = httpx.get(f"{stack.url}/auth/v1/user")
    assert r.status_code == 401 and r.json()["message"] == "No API key found in request"
