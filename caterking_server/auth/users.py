"""Users, sessions and refresh tokens in the `auth` schema (superuser connection)."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import uuid
import weakref
from datetime import datetime, timedelta
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg.rows import dict_row

# OWASP's argon2id minimum (19 MiB, t=2, p=1): slow and salted, yet quick enough
# for a 2-core kiosk box and a test suite that signs in often.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)
_DUMMY_HASH = _HASHER.hash("caterking-local-dummy-password")

USER_COLUMNS = (
    "id, aud, role, email, phone, encrypted_password, email_confirmed_at, phone_confirmed_at, "
    "last_sign_in_at, banned_until, is_anonymous, raw_app_meta_data, raw_user_meta_data, "
    "created_at, updated_at"
)


def _hash_slots() -> asyncio.Semaphore:
    """At most two hashes at once per event loop (memory-hard: 19 MiB each)."""
    loop = asyncio.get_running_loop()
    sem = _SLOTS.get(loop)
    if sem is None:
        sem = _SLOTS[loop] = asyncio.Semaphore(2)
    return sem


async def hash_password(password: str) -> str:
    async with _hash_slots():
        return await asyncio.to_thread(_HASHER.hash, password)


async def check_password(stored: str | None, password: str) -> bool:
    """Constant-ish work whether or not the user has a password."""
    async with _hash_slots():
        try:
            ok = await asyncio.to_thread(_HASHER.verify, stored or _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return False
    return bool(ok) and stored is not None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


GO_MAX_DURATION_SECONDS = (2**63 - 1) / 1e9


def parse_go_duration(text: str) -> timedelta | None:
    """Go's time.ParseDuration subset GoTrue's `ban_duration` uses ("24h", "1h30m")."""
    text = text.strip()
    if not text or _DURATION.sub("", text) != "":
        return None
    seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text))
    if not seconds <= GO_MAX_DURATION_SECONDS:
        return None  # Go's ParseDuration: "invalid duration" beyond int64 nanoseconds
    return timedelta(seconds=seconds)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    """The user object as GoTrue serialises it (models/user.go)."""
    app_meta = dict(row["raw_app_meta_data"] or {})
    app_meta.setdefault("provider", "email")
    app_meta.setdefault("providers", ["email"])
    email_conf = row["email_confirmed_at"]
    return {
        "id": str(row["id"]),
        "aud": row["aud"],
        "role": row["role"],
        "email": row["email"] or "",
        "email_confirmed_at": _iso(email_conf),
        "phone": row["phone"] or "",
        "phone_confirmed_at": _iso(row["phone_confirmed_at"]),
        "confirmed_at": _iso(email_conf or row["phone_confirmed_at"]),
        "last_sign_in_at": _iso(row["last_sign_in_at"]),
        "app_metadata": app_meta,
        "user_metadata": dict(row["raw_user_meta_data"] or {}),
        "identities": identities(row),
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "banned_until": _iso(row["banned_until"]),
        "is_anonymous": bool(row["is_anonymous"]),
    }


IDENTITY_NAMESPACE = uuid.UUID("0b5d3c1e-6f43-4d55-9d43-5b1c1f0e7a21")


def identities(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The user's identities as GoTrue lists them: an account with an email has its
    `email` identity (GoTrue creates it with the user; here it is derived, with a
    stable id)."""
    email = row["email"]
    if not email:
        return []
    uid = str(row["id"])
    return [
        {
            "identity_id": str(uuid.uuid5(IDENTITY_NAMESPACE, f"{uid}:email")),
            "id": uid,
            "user_id": uid,
            "identity_data": {
                "sub": uid,
                "email": email,
                "email_verified": row["email_confirmed_at"] is not None,
                "phone_verified": False,
            },
            "provider": "email",
            "last_sign_in_at": _iso(row["last_sign_in_at"]),
            "created_at": _iso(row["created_at"]),
            "updated_at": _iso(row["updated_at"]),
            "email": email,
        }
    ]


def merge_metadata(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """GoTrue merges metadata updates at the top level; a null value removes the key."""
    out = dict(current)
    for k, v in update.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


async def get_user(conn: psycopg.AsyncConnection[Any], user_id: str) -> dict[str, Any] | None:
    try:
        uuid.UUID(user_id)
    except ValueError:
        return None
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"select {USER_COLUMNS} from auth.users where id = %s", (user_id,))
    return await cur.fetchone()


async def find_by_email(conn: psycopg.AsyncConnection[Any], email: str) -> dict[str, Any] | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"select {USER_COLUMNS} from auth.users where lower(email) = lower(%s)", (email,)
    )
    return await cur.fetchone()


async def insert_user(
    conn: psycopg.AsyncConnection[Any],
    *,
    email: str,
    password_hash: str | None,
    app_metadata: dict[str, Any],
    user_metadata: dict[str, Any],
    email_confirm: bool,
    phone: str | None = None,
    banned_until: datetime | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    meta = {"provider": "email", "providers": ["email"], **app_metadata}
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "insert into auth.users (id, email, phone, encrypted_password, email_confirmed_at, "
        "raw_app_meta_data, raw_user_meta_data, banned_until) "
        "values (%s, %s, %s, %s, case when %s then now() end, %s, %s, %s) "
        f"returning {USER_COLUMNS}",
        (
            user_id or str(uuid.uuid4()),
            email,
            phone,
            password_hash,
            email_confirm,
            json.dumps(meta),
            json.dumps(user_metadata),
            banned_until,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def new_session(conn: psycopg.AsyncConnection[Any], user_id: str) -> tuple[str, str]:
    """(session_id, refresh_token) for a fresh sign-in."""
    session_id = str(uuid.uuid4())
    await conn.execute(
        "insert into auth.sessions (id, user_id) values (%s, %s)", (session_id, user_id)
    )
    token = await new_refresh_token(conn, user_id, session_id, parent=None)
    await conn.execute("update auth.users set last_sign_in_at = now() where id = %s", (user_id,))
    return session_id, token


async def new_refresh_token(
    conn: psycopg.AsyncConnection[Any], user_id: str, session_id: str, parent: str | None
) -> str:
    token = secrets.token_urlsafe(18)
    await conn.execute(
        "insert into auth.refresh_tokens (token, user_id, session_id, parent) "
        "values (%s, %s, %s, %s)",
        (token, user_id, session_id, parent),
    )
    return token


async def session_exists(conn: psycopg.AsyncConnection[Any], session_id: str) -> bool:
    try:
        uuid.UUID(session_id)
    except ValueError:
        return False
    cur = await conn.execute("select 1 from auth.sessions where id = %s", (session_id,))
    return await cur.fetchone() is not None
