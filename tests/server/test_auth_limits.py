"""Auth against brute force and as GoTrue answers (issue 10, item 7 and "correct or
clearly refused"): 429 per client address and per account, the minimum password
length, sign-up refused, identities, the admin list's order and Link header."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from supabase_auth.errors import AuthApiError

from caterking_display.backend import SupabaseBackend
from caterking_display.backend.types import TransportError
from caterking_server import serve
from caterking_server.auth.routes import AuthService
from caterking_server.ratelimit import RateLimiter
from caterking_server.stack import LocalStack
from tests.server.helpers import (
    PASSWORD,
    admin_headers,
    anon_client,
    create_user,
    service_client,
)

VERSION = {"X-Supabase-Api-Version": "2024-01-01"}


@pytest.fixture
def auth(stack: LocalStack) -> AuthService:
    assert stack.auth is not None
    return stack.auth


def limit(
    monkeypatch: pytest.MonkeyPatch, auth: AuthService, name: str, count: int, window: float = 300
) -> None:
    monkeypatch.setattr(auth, name, RateLimiter(count, window))


def sign_in(stack: LocalStack, email: str, password: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{stack.url}/auth/v1/token",
        params={"grant_type": "password"},
        headers={"apikey": stack.anon_key, **headers},
        json={"email": email, "password": password},
    )


def test_sign_ins_from_one_address_are_limited(
    stack: LocalStack, auth: AuthService, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit(monkeypatch, auth, "sign_ins", 5)
    _, email = create_user(stack)
    for i in range(5):
        r = sign_in(stack, email, f"wrong-{i}", **VERSION)
        assert r.status_code == 400 and r.json()["code"] == "invalid_credentials"
    r = sign_in(stack, email, PASSWORD, **VERSION)
    assert r.status_code == 429
    assert r.json() == {"code": "over_request_rate_limit", "message": "Request rate limit reached"}
    assert r.headers["X-Supabase-Api-Version"] == "2024-01-01"
    assert int(r.headers["Retry-After"]) >= 1
    r = sign_in(stack, email, PASSWORD)
    assert r.json() == {
        "code": 429,
        "error_code": "over_request_rate_limit",
        "msg": "Request rate limit reached",
    }
    with pytest.raises(AuthApiError) as err:
        anon_client(stack).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert err.value.status == 429 and err.value.code == "over_request_rate_limit"


def test_an_account_stops_taking_guesses_after_wrong_passwords(
    stack: LocalStack, auth: AuthService, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit(monkeypatch, auth, "failures", 3)
    _, email = create_user(stack)
    _, other = create_user(stack)
    for i in range(3):
        assert sign_in(stack, email.upper(), f"guess-{i}").status_code == 400
    # From now on no password is checked for it, the right one included.
    assert sign_in(stack, email, PASSWORD).status_code == 429
    # Other accounts are not affected, nor are right passwords counted.
    for _ in range(5):
        assert sign_in(stack, other, PASSWORD).status_code == 200


def test_the_window_lets_an_account_in_again(
    stack: LocalStack, auth: AuthService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limiter's own clock, moved by hand: the test does not depend on how long a
    # sign-in takes on a busy machine (0.6 s of real time once ran out between guesses).
    now = [1000.0]
    monkeypatch.setattr(auth, "failures", RateLimiter(2, 60, clock=lambda: now[0]))
    _, email = create_user(stack)
    for i in range(2):
        assert sign_in(stack, email, f"guess-{i}").status_code == 400
    refused = sign_in(stack, email, PASSWORD)
    assert refused.status_code == 429
    wait = float(refused.headers["Retry-After"])
    assert 0 < wait <= 60
    now[0] += wait / 2
    assert sign_in(stack, email, PASSWORD).status_code == 429  # not yet
    now[0] += wait / 2 + 0.01
    assert sign_in(stack, email, PASSWORD).status_code == 200


def test_token_refreshes_from_one_address_are_limited(
    stack: LocalStack, auth: AuthService, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit(monkeypatch, auth, "refreshes", 2)
    _, email = create_user(stack)
    refresh = sign_in(stack, email, PASSWORD).json()["refresh_token"]
    for _ in range(2):
        r = httpx.post(
            f"{stack.url}/auth/v1/token",
            params={"grant_type": "refresh_token"},
            headers={"apikey": stack.anon_key},
            json={"refresh_token": refresh},
        )
        assert r.status_code == 200
        refresh = r.json()["refresh_token"]
    r = httpx.post(
        f"{stack.url}/auth/v1/token",
        params={"grant_type": "refresh_token"},
        headers={"apikey": stack.anon_key},
        json={"refresh_token": refresh},
    )
    assert r.status_code == 429 and r.json()["error_code"] == "over_request_rate_limit"


async def test_the_board_treats_429_as_an_outage_not_a_wrong_password(
    stack: LocalStack, auth: AuthService, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit(monkeypatch, auth, "sign_ins", 1)
    _, email = create_user(stack)
    backend = SupabaseBackend(stack.url, stack.anon_key)
    try:
        await backend.sign_in(email, PASSWORD)
        with pytest.raises(TransportError):  # retried later, never "Sign-in failed"
            await backend.sign_in(email, PASSWORD)
    finally:
        await backend.aclose()


def test_admin_passwords_have_a_minimum_length(stack: LocalStack) -> None:
    h = {**admin_headers(stack)}
    email = f"u{uuid.uuid4().hex[:8]}@test.caterking.local"
    r = httpx.post(
        f"{stack.url}/auth/v1/admin/users",
        json={"email": email, "password": "9chars!!!"},
        headers=h,
    )
    assert r.status_code == 422
    assert r.json() == {
        "code": "weak_password",
        "message": "Password should be at least 10 characters.",
        "weak_password": {"reasons": ["length"]},
    }
    r = httpx.post(
        f"{stack.url}/auth/v1/admin/users",
        json={"email": email, "password": "ten chars!"},
        headers=h,
    )
    assert r.status_code == 200
    uid = r.json()["id"]
    r = httpx.put(f"{stack.url}/auth/v1/admin/users/{uid}", json={"password": "short"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "weak_password"


def test_signup_is_refused_as_gotrue_refuses_it(stack: LocalStack) -> None:
    body = {"email": "new@test.caterking.local", "password": "a long password"}
    r = httpx.post(
        f"{stack.url}/auth/v1/signup", json=body, headers={"apikey": stack.anon_key, **VERSION}
    )
    assert r.status_code == 422
    assert r.json() == {
        "code": "signup_disabled",
        "message": "Signups not allowed for this instance",
    }
    r = httpx.post(f"{stack.url}/auth/v1/signup", json=body, headers={"apikey": stack.anon_key})
    assert r.json() == {
        "code": 422,
        "error_code": "signup_disabled",
        "msg": "Signups not allowed for this instance",
    }
    with pytest.raises(AuthApiError) as err:
        anon_client(stack).auth.sign_up({"email": body["email"], "password": body["password"]})
    assert err.value.code == "signup_disabled"


def test_admin_created_users_have_their_email_identity(stack: LocalStack) -> None:
    uid, email = create_user(stack)
    user = service_client(stack).auth.admin.get_user_by_id(uid).user
    [identity] = user.identities or []
    assert identity.provider == "email" and identity.user_id == uid and identity.id == uid
    assert identity.identity_data == {
        "sub": uid,
        "email": email,
        "email_verified": True,
        "phone_verified": False,
    }
    again = service_client(stack).auth.admin.get_user_by_id(uid).user
    assert (again.identities or [])[0].identity_id == identity.identity_id


def test_admin_list_is_newest_first_with_gotrue_paging_headers(stack: LocalStack) -> None:
    made = [create_user(stack)[0] for _ in range(3)]
    h = admin_headers(stack)
    r = httpx.get(f"{stack.url}/auth/v1/admin/users", params={"per_page": 2}, headers=h)
    assert r.status_code == 200
    total = int(r.headers["X-Total-Count"])
    users: list[dict[str, Any]] = r.json()["users"]
    assert [u["id"] for u in users] == made[::-1][:2]
    last = -(-total // 2)
    assert r.headers["Link"] == (
        f'</auth/v1/admin/users?page=2&per_page=2>; rel="next", '
        f'</auth/v1/admin/users?page={last}&per_page=2>; rel="last"'
    )
    r = httpx.get(
        f"{stack.url}/auth/v1/admin/users",
        params={"per_page": 2, "page": last},
        headers=h,
    )
    assert 'rel="next"' not in r.headers["Link"]
    r = httpx.get(
        f"{stack.url}/auth/v1/admin/users",
        params={"per_page": 1000, "sort": "created_at asc"},
        headers=h,
    )
    ids = [u["id"] for u in r.json()["users"]]
    assert ids.index(made[0]) < ids.index(made[1]) < ids.index(made[2])
    r = httpx.get(f"{stack.url}/auth/v1/admin/users", params={"sort": "email"}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "validation_failed"
    listed = service_client(stack).auth.admin.list_users(page=1, per_page=2)
    assert [u.id for u in listed] == made[::-1][:2]


def test_serve_flags_and_environment_set_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    monkeypatch.setenv("CATERKING_RATE_LIMIT_SIGN_IN", "7")
    monkeypatch.setenv("CATERKING_CORS_ORIGINS", "http://kitchen.local")
    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    args = p.parse_args(["--rate-limit-failed-sign-in", "0", "--min-password-length", "12"])
    assert args.rate_limit_sign_in == 7 and args.rate_limit_failed_sign_in == 0
    assert args.rate_limit_token_refresh == 150 and args.min_password_length == 12
    assert args.cors_origins == "http://kitchen.local"
    with pytest.raises(SystemExit):
        p.parse_args(["--rate-limit-sign-in", "-1"])
