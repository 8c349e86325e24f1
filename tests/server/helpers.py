"""Official-client helpers for the local stack tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from supabase import Client, ClientOptions, create_client

from caterking_server.stack import LocalStack
from tests.pg import Kitchen

PASSWORD = "correct horse battery"


def options() -> ClientOptions:
    return ClientOptions(auto_refresh_token=False, persist_session=False)


def anon_client(stack: LocalStack) -> Client:
    return create_client(stack.url, stack.anon_key, options())


def service_client(stack: LocalStack) -> Client:
    return create_client(stack.url, stack.service_role_key, options())


def admin_headers(stack: LocalStack) -> dict[str, str]:
    return {
        "apikey": stack.service_role_key,
        "Authorization": f"Bearer {stack.service_role_key}",
        "X-Supabase-Api-Version": "2024-01-01",
    }


def create_user(
    stack: LocalStack,
    *,
    app_metadata: dict[str, Any] | None = None,
    password: str = PASSWORD,
    **extra: Any,
) -> tuple[str, str]:
    """A confirmed user via the admin API; returns (id, email)."""
    email = f"u{uuid.uuid4().hex[:10]}@test.caterking.local"
    body = {
        "email": email,
        "password": password,
        "email_confirm": True,
        "app_metadata": app_metadata or {},
        **extra,
    }
    r = httpx.post(f"{stack.url}/auth/v1/admin/users", json=body, headers=admin_headers(stack))
    r.raise_for_status()
    return r.json()["id"], email


def display_meta(k: Kitchen) -> dict[str, Any]:
    return {"tenant_id": k.tenant_id, "kitchen_id": k.kitchen_id, "device_kind": "display"}


def display_client(stack: LocalStack, k: Kitchen) -> Client:
    _, email = create_user(stack, app_metadata=display_meta(k))
    c = anon_client(stack)
    c.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    return c


def admin_client(stack: LocalStack, k: Kitchen) -> Client:
    """A signed-in back-office user of the kitchen's tenant (not a display)."""
    _, email = create_user(stack, app_metadata={"tenant_id": k.tenant_id})
    c = anon_client(stack)
    c.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    return c
