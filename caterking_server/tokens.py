"""HS256 JWTs as Supabase issues and checks them (docs/kitchen-server.md).

Shared by the local stack's Auth, REST and Realtime so every path accepts and
refuses the same tokens with the same words.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt

ALGORITHM = "HS256"
API_KEY_LIFETIME = 10 * 365 * 24 * 3600  # anon / service keys: ten years, as `supabase start`


class TokenError(Exception):
    """A token that must be refused. `code` is Realtime's reason code, `message` its words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def expired(self) -> bool:
        return self.message.startswith("Token has expired")


def new_secret() -> str:
    return secrets.token_urlsafe(48)


def sign(claims: dict[str, Any], secret: str) -> str:
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"typ": "JWT"})


def api_key(role: str, secret: str, *, now: int | None = None) -> str:
    """The anon / service_role key: role and exp, no sub (as Supabase's keys)."""
    iat = int(time.time()) if now is None else now
    return sign(
        {"iss": "supabase-local", "role": role, "iat": iat, "exp": iat + API_KEY_LIFETIME}, secret
    )


def verify(token: str | None, secret: str, *, now: float | None = None) -> dict[str, Any]:
    """The token's claims, or TokenError with the reason Supabase gives."""
    if not token:
        raise TokenError("InvalidJWTToken", "API key is missing")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise TokenError("MalformedJWT", "The token provided is not a valid JWT") from exc
    if header.get("alg") != ALGORITHM:
        raise TokenError("JwtSignatureError", "Failed to validate JWT signature")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_aud": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenError("JwtSignatureError", "Failed to validate JWT signature") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError("MalformedJWT", "The token provided is not a valid JWT") from exc
    if "role" not in claims or "exp" not in claims:
        raise TokenError("InvalidJWTToken", "Fields `role` and `exp` are required in JWT")
    current = time.time() if now is None else now
    try:
        exp = float(claims["exp"])
    except (TypeError, ValueError) as exc:
        raise TokenError("InvalidJWTToken", "Fields `role` and `exp` are required in JWT") from exc
    if exp <= current:
        raise TokenError("InvalidJWTToken", f"Token has expired {int(current - exp)} seconds ago")
    return claims
