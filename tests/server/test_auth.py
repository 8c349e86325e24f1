"""`/auth/v1` driven by supabase-py (async and sync) over real sockets."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from supabase import acreate_client
from supabase_auth.errors import AuthApiError

from caterking_server import tokens
from caterking_server.stack import LocalStack
from tests.pg import connect
from tests.server.helpers import (
    PASSWORD,
    admin_headers,
    anon_client,
    create_user,
    options,
)


async def test_sign_in_refresh_user_logout_async(stack: LocalStack) -> None:
    uid, email = create_user(stack, app_metadata={"tenant_id": "t1", "device_kind": "display"})
    client = await acreate_client(stack.url, stack.anon_key, options())
    http = httpx.AsyncClient()
    res = await client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert res.session is not None and res.user is not None
    assert res.user.id == uid and res.user.email == email
    assert res.user.app_metadata["provider"] == "email"
    assert res.user.app_metadata["device_kind"] == "display"

    claims = tokens.verify(res.session.access_token, stack.jwt_secret)
    assert claims["sub"] == uid and claims["aud"] == "authenticated"
    assert claims["role"] == "authenticated" and claims["email"] == email
    assert claims["app_metadata"]["tenant_id"] == "t1"
    assert claims["iss"] == f"{stack.url}/auth/v1"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["aal"] == "aal1" and claims["amr"][0]["method"] == "password"
    assert claims["session_id"] and claims["is_anonymous"] is False

    got = await client.auth.get_user()
    assert got is not None and got.user.id == uid

    first_refresh = res.session.refresh_token
    refreshed = await client.auth.refresh_session()
    assert refreshed.session is not None
    assert refreshed.session.refresh_token != first_refresh
    new_claims = tokens.verify(refreshed.session.access_token, stack.jwt_secret)
    assert new_claims["session_id"] == claims["session_id"]

    # Presenting the rotated-out token again at once (a reply lost on the way) yields
    # the session's active token instead of a refusal: GoTrue's reuse interval.
    r = await http.post(
        f"{stack.url}/auth/v1/token?grant_type=refresh_token",
        json={"refresh_token": first_refresh},
        headers={"apikey": stack.anon_key, "X-Supabase-Api-Version": "2024-01-01"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"] == refreshed.session.refresh_token
    assert r.headers["X-Supabase-Api-Version"] == "2024-01-01"

    access = refreshed.session.access_token
    latest_refresh = refreshed.session.refresh_token
    await client.auth.sign_out()
    # The session is gone: its access token and refresh tokens die with it.
    r = await http.get(f"{stack.url}/auth/v1/user", headers=_user_headers(stack, access))
    assert r.status_code == 403 and r.json()["code"] == "session_not_found"
    r = await http.post(
        f"{stack.url}/auth/v1/token?grant_type=refresh_token",
        json={"refresh_token": latest_refresh},
        headers=_user_headers(stack, stack.anon_key),
    )
    assert r.status_code == 400 and r.json()["code"] == "refresh_token_not_found"


def _user_headers(stack: LocalStack, token: str) -> dict[str, str]:
    return {
        "apikey": stack.anon_key,
        "Authorization": f"Bearer {token}",
        "X-Supabase-Api-Version": "2024-01-01",
    }


def test_unknown_refresh_token(stack: LocalStack) -> None:
    c = anon_client(stack)
    with pytest.raises(AuthApiError) as err:
        c.auth.refresh_session("no-such-token")
    assert err.value.code == "refresh_token_not_found"
    assert err.value.status == 400


def test_bad_password_and_unknown_user(stack: LocalStack) -> None:
    _, email = create_user(stack)
    c = anon_client(stack)
    for who, pw in ((email, "wrong password"), ("nobody@test.caterking.local", PASSWORD)):
        with pytest.raises(AuthApiError) as err:
            c.auth.sign_in_with_password({"email": who, "password": pw})
        assert err.value.code == "invalid_credentials"
        assert err.value.message == "Invalid login credentials"
        assert err.value.status == 400


def test_unconfirmed_email_refused(stack: LocalStack) -> None:
    _, email = create_user(stack, email_confirm=False)
    with pytest.raises(AuthApiError) as err:
        anon_client(stack).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert err.value.code == "email_not_confirmed"


def test_get_user_errors(stack: LocalStack) -> None:
    url = f"{stack.url}/auth/v1/user"
    h = {"apikey": stack.anon_key, "X-Supabase-Api-Version": "2024-01-01"}
    r = httpx.get(url, headers=h)
    assert r.status_code == 401 and r.json()["code"] == "no_authorization"
    r = httpx.get(url, headers={**h, "Authorization": "Bearer not-a-jwt"})
    assert r.status_code == 403 and r.json()["code"] == "bad_jwt"
    expired = tokens.sign(
        {
            "sub": "00000000-0000-0000-0000-000000000001",
            "role": "authenticated",
            "exp": int(time.time()) - 5,
        },
        stack.jwt_secret,
    )
    r = httpx.get(url, headers={**h, "Authorization": f"Bearer {expired}"})
    assert r.status_code == 403 and r.json()["code"] == "bad_jwt"
    forged = tokens.sign(
        {"sub": "x", "role": "authenticated", "exp": 2**31},
        "a-different-secret-of-sufficient-length-1234",
    )
    r = httpx.get(url, headers={**h, "Authorization": f"Bearer {forged}"})
    assert r.status_code == 403
    # Legacy error shape without the API version header.
    r = httpx.get(url, headers={"apikey": stack.anon_key})
    assert r.status_code == 401
    assert r.json() == {
        "code": 401,
        "error_code": "no_authorization",
        "msg": "This endpoint requires a valid Bearer token",
    }
    assert "X-Supabase-Api-Version" not in r.headers


def test_missing_apikey_refused(stack: LocalStack) -> None:
    r = httpx.post(
        f"{stack.url}/auth/v1/token?grant_type=password", json={"email": "a@b.c", "password": "x"}
    )
    assert r.status_code == 401
    assert r.json()["message"] == "No API key found in request"


def test_health_and_settings(stack: LocalStack) -> None:
    assert httpx.get(f"{stack.url}/auth/v1/health").status_code == 200
    s = httpx.get(f"{stack.url}/auth/v1/settings").json()
    assert s["external"]["email"] is True


async def test_admin_users_crud(stack: LocalStack) -> None:
    svc = await acreate_client(stack.url, stack.service_role_key, options())
    admin = svc.auth.admin
    created = await admin.create_user(
        {
            "email": "Chef.Admin@test.caterking.local",
            "password": PASSWORD,
            "email_confirm": True,
            "app_metadata": {"tenant_id": "T", "kitchen_id": "K", "device_kind": "display"},
            "user_metadata": {"name": "Pass"},
        }
    )
    user = created.user
    assert user.email == "Chef.Admin@test.caterking.local"
    assert user.app_metadata == {
        "provider": "email",
        "providers": ["email"],
        "tenant_id": "T",
        "kitchen_id": "K",
        "device_kind": "display",
    }
    assert user.user_metadata == {"name": "Pass"}
    assert user.email_confirmed_at is not None

    with pytest.raises(AuthApiError) as err:
        await admin.create_user({"email": "chef.admin@test.caterking.local", "password": PASSWORD})
    assert err.value.code == "email_exists" and err.value.status == 422

    listed = await admin.list_users(page=1, per_page=1000)
    assert user.id in {u.id for u in listed}

    got = await admin.get_user_by_id(user.id)
    assert got.user.email == user.email

    updated = await admin.update_user_by_id(
        user.id,
        {"app_metadata": {"kitchen_id": "K2", "device_kind": None}, "password": "new password!"},
    )
    assert updated.user.app_metadata["kitchen_id"] == "K2"
    assert "device_kind" not in updated.user.app_metadata
    assert updated.user.app_metadata["tenant_id"] == "T"

    c = await acreate_client(stack.url, stack.anon_key, options())
    signed = await c.auth.sign_in_with_password(
        {"email": "chef.admin@test.caterking.local", "password": "new password!"}
    )
    assert signed.session is not None
    claims = tokens.verify(signed.session.access_token, stack.jwt_secret)
    assert claims["app_metadata"]["kitchen_id"] == "K2"

    await admin.delete_user(user.id)
    with pytest.raises(AuthApiError) as err:
        await admin.get_user_by_id(user.id)
    assert err.value.code == "user_not_found" and err.value.status == 404
    r = await httpx.AsyncClient().get(
        f"{stack.url}/auth/v1/user",
        headers=_user_headers(stack, signed.session.access_token),
    )
    assert r.status_code == 403


@pytest.mark.parametrize("who", ["anon", "user"])
def test_admin_refused_for_non_service_callers(stack: LocalStack, who: str) -> None:
    token = stack.anon_key
    if who == "user":
        _, email = create_user(stack)
        s = anon_client(stack).auth.sign_in_with_password({"email": email, "password": PASSWORD})
        assert s.session is not None
        token = s.session.access_token
    h = _user_headers(stack, token)
    for method, path, body in (
        ("GET", "/auth/v1/admin/users", None),
        ("POST", "/auth/v1/admin/users", {"email": "x@y.z", "password": "secret123"}),
        ("DELETE", "/auth/v1/admin/users/00000000-0000-0000-0000-000000000000", None),
    ):
        r = httpx.request(method, f"{stack.url}{path}", headers=h, json=body)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["code"] == "not_admin"


def test_banned_user(stack: LocalStack) -> None:
    uid, email = create_user(stack)
    c = anon_client(stack)
    s = c.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert s.session is not None
    r = httpx.put(
        f"{stack.url}/auth/v1/admin/users/{uid}",
        json={"ban_duration": "876000h"},
        headers=admin_headers(stack),
    )
    assert r.status_code == 200 and r.json()["banned_until"]
    with pytest.raises(AuthApiError) as err:
        anon_client(stack).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert err.value.code == "user_banned"
    r2 = httpx.post(
        f"{stack.url}/auth/v1/token?grant_type=refresh_token",
        json={"refresh_token": s.session.refresh_token},
        headers=_user_headers(stack, stack.anon_key),
    )
    assert r2.status_code == 400 and r2.json()["code"] == "user_banned"
    body: dict[str, Any] = {"ban_duration": "none"}
    r = httpx.put(f"{stack.url}/auth/v1/admin/users/{uid}", json=body, headers=admin_headers(stack))
    assert r.status_code == 200 and r.json()["banned_until"] is None
    assert (
        anon_client(stack)
        .auth.sign_in_with_password({"email": email, "password": PASSWORD})
        .session
    )


# -- refresh-token reuse (GoTrue's reuse interval) ---------------------------------------


def _age_token(stack: LocalStack, token: str, seconds: int) -> None:
    """Pretend `token` was rotated `seconds` ago (instead of sleeping through the interval)."""
    with connect(stack.db_dsn) as conn:
        conn.execute(
            "update auth.refresh_tokens set updated_at = now() - make_interval(secs => %s) "
            "where token = %s",
            (seconds, token),
        )


def test_refresh_reuse_within_interval_returns_active_token(stack: LocalStack) -> None:
    _, email = create_user(stack)
    display = anon_client(stack)
    s = display.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert s.session is not None
    first = s.session.refresh_token
    # The server rotates, but the reply never reaches the display (kitchen Wi-Fi).
    rotated = anon_client(stack).auth.refresh_session(first)
    assert rotated.session is not None
    child = rotated.session.refresh_token
    _age_token(stack, first, 5)
    # The display retries with the token it still has and keeps its session.
    again = display.auth.refresh_session(first)
    assert again.session is not None
    assert again.session.refresh_token == child
    sid = tokens.verify(s.session.access_token, stack.jwt_secret)["session_id"]
    assert tokens.verify(again.session.access_token, stack.jwt_secret)["session_id"] == sid
    # The active token still rotates normally afterwards.
    nxt = display.auth.refresh_session(child)
    assert nxt.session is not None and nxt.session.refresh_token not in (first, child)


def test_refresh_reuse_after_interval_revokes_session(stack: LocalStack) -> None:
    _, email = create_user(stack)
    c = anon_client(stack)
    s = c.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert s.session is not None
    first = s.session.refresh_token
    rotated = c.auth.refresh_session()
    assert rotated.session is not None
    child = rotated.session.refresh_token
    _age_token(stack, first, 11)
    r = httpx.post(
        f"{stack.url}/auth/v1/token?grant_type=refresh_token",
        json={"refresh_token": first},
        headers={"apikey": stack.anon_key, "X-Supabase-Api-Version": "2024-01-01"},
    )
    assert r.status_code == 400
    assert r.json() == {
        "code": "refresh_token_already_used",
        "message": "Invalid Refresh Token: Already Used",
    }
    assert r.headers["X-Supabase-Api-Version"] == "2024-01-01"
    # Theft signal: every refresh token of the session is revoked, the active one too.
    with pytest.raises(AuthApiError) as err:
        anon_client(stack).auth.refresh_session(child)
    assert err.value.code == "refresh_token_already_used"
    sid = tokens.verify(s.session.access_token, stack.jwt_secret)["session_id"]
    with connect(stack.db_dsn) as conn:
        rows = conn.execute(
            "select revoked from auth.refresh_tokens where session_id = %s", (sid,)
        ).fetchall()
    assert rows and all(row["revoked"] for row in rows)


# -- robustness ---------------------------------------------------------------------------


def test_unexpected_failure_is_json(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from caterking_server.auth import users

    def boom(row: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("surprise")

    uid, _ = create_user(stack)
    monkeypatch.setattr(users, "user_json", boom)
    r = httpx.get(f"{stack.url}/auth/v1/admin/users/{uid}", headers=admin_headers(stack))
    assert r.status_code == 500
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["code"] == "unexpected_failure" and r.json()["message"]
    assert r.headers["X-Supabase-Api-Version"] == "2024-01-01"


def test_hostile_admin_inputs_are_400(stack: LocalStack) -> None:
    uid, _ = create_user(stack)
    h = admin_headers(stack)
    r = httpx.put(
        f"{stack.url}/auth/v1/admin/users/{uid}",
        json={"ban_duration": "99999999999999h"},
        headers=h,
    )
    assert r.status_code == 400 and r.json()["code"] == "validation_failed", r.text
    for page in ("99999999999999999999", "9" * 30, "abc", "1e3"):
        r = httpx.get(f"{stack.url}/auth/v1/admin/users", params={"page": page}, headers=h)
        assert r.status_code == 400, (page, r.text)
        assert r.json()["code"] == "validation_failed"
    deep = b"[" * 200_000
    for path in ("/auth/v1/admin/users", "/auth/v1/token?grant_type=password"):
        r = httpx.post(
            f"{stack.url}{path}", content=deep, headers={**h, "Content-Type": "application/json"}
        )
        assert r.status_code == 400, (path, r.text)
        assert r.json()["code"] == "bad_json"


def test_nul_byte_in_credentials_is_400(stack: LocalStack) -> None:
    with pytest.raises(AuthApiError) as err:
        anon_client(stack).auth.sign_in_with_password(
            {"email": "a\x00b@test.caterking.local", "password": PASSWORD}
        )
    assert err.value.status == 400 and err.value.code == "validation_failed"
