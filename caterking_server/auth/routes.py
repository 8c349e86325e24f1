"""`/auth/v1`: the GoTrue subset the official clients use (docs/kitchen-server.md)."""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import psycopg
from aiohttp import web
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from caterking_server import tokens
from caterking_server.auth import users
from caterking_server.auth.errors import API_VERSION_HEADER, AuthError, gotrue_errors
from caterking_server.db import admin_tx
from caterking_server.gateway import BodyTooLarge, api_key_required, bearer, read_capped
from caterking_server.ratelimit import AuthLimits, RateLimiter

log = logging.getLogger(__name__)

ADMIN_ROLES = frozenset({"service_role", "supabase_admin"})
REFRESH_TOKEN_REUSE_INTERVAL = 10.0  # seconds (GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL)
MAX_OFFSET = 2**62  # admin_list: page × per_page must stay a Postgres bigint


def _rate_limited(wait: float) -> AuthError:
    """GoTrue's 429 (its middleware's words), with when to try again."""
    return AuthError(
        429,
        "over_request_rate_limit",
        "Request rate limit reached",
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )


def _already_used() -> AuthError:
    return AuthError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")


def _ok(request: web.Request, body: Any, status: int = 200) -> web.Response:
    headers = {}
    version = request.headers.get(API_VERSION_HEADER)
    if version:
        headers[API_VERSION_HEADER] = version
    if body is None:
        return web.Response(status=status, headers=headers)
    return web.json_response(body, status=status, headers=headers)


MAX_BODY_BYTES = 1 << 20  # credentials and metadata: kilobytes


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        raw = await read_capped(request, MAX_BODY_BYTES)
    except BodyTooLarge as exc:
        raise AuthError(
            413, "request_too_large", f"Request body larger than {MAX_BODY_BYTES} bytes"
        ) from exc
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        # RecursionError: a body nested thousands of levels deep.
        raise AuthError(400, "bad_json", "Could not parse request body as JSON") from exc
    if not isinstance(body, dict):
        raise AuthError(400, "bad_json", "Could not parse request body as JSON")
    return body


def _pagination_link(request: web.Request, page: int, per_page: int, total: int) -> str:
    """GoTrue's Link header: `<…?page=N+1…>; rel="next", <…?page=last…>; rel="last"`."""
    pages = -(-total // per_page)
    query = dict(request.query)

    def url(n: int) -> str:
        q = {**query, "page": str(n)}
        return f"{request.path}?{urlencode(sorted(q.items()))}"

    link = f'<{url(page + 1)}>; rel="next", ' if pages > page else ""
    return link + f'<{url(pages)}>; rel="last"'


class AuthService:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        jwt_secret: str,
        jwt_expiry: int,
        site_url: str = "",
        limits: AuthLimits | None = None,
    ) -> None:
        self.pool = pool
        self.jwt_secret = jwt_secret
        self.jwt_expiry = jwt_expiry
        self.site_url = site_url
        self.limits = limits or AuthLimits()
        window = self.limits.window_s
        self.sign_ins = RateLimiter(self.limits.sign_in_per_ip, window)
        self.refreshes = RateLimiter(self.limits.token_refresh_per_ip, window)
        self.failures = RateLimiter(self.limits.failed_sign_in_per_account, window)
        # GoTrue's refresh-token reuse interval: a rotated token presented again within
        # this many seconds (a lost reply) yields the session's active token; later
        # reuse is treated as theft and revokes the session's refresh tokens.
        self.refresh_reuse_interval = REFRESH_TOKEN_REUSE_INTERVAL

    # -- wiring ---------------------------------------------------------------------

    def app(self) -> web.Application:
        """`/auth/v1` as a sub-application: Kong's key check (not on health and
        settings), then GoTrue's error envelope around every handler."""
        public = frozenset({"/auth/v1/health", "/auth/v1/settings"})
        app = web.Application(
            middlewares=[api_key_required(self.jwt_secret, public=public), gotrue_errors]
        )
        r = app.router
        r.add_get("/health", self.health)
        r.add_get("/settings", self.settings)
        r.add_post("/token", self.token)
        r.add_post("/signup", self.signup)
        r.add_get("/user", self.get_user)
        r.add_post("/logout", self.logout)
        r.add_post("/admin/users", self.admin_create)
        r.add_get("/admin/users", self.admin_list)
        r.add_get("/admin/users/{id}", self.admin_get)
        r.add_put("/admin/users/{id}", self.admin_update)
        r.add_delete("/admin/users/{id}", self.admin_delete)
        return app

    # -- tokens -----------------------------------------------------------------------

    def _access_token(self, user: dict[str, Any], session_id: str, amr_time: int) -> str:
        now = int(time.time())
        u = users.user_json(user)
        claims = {
            "iss": f"{self.site_url}/auth/v1",
            "sub": u["id"],
            "aud": u["aud"],
            "exp": now + self.jwt_expiry,
            "iat": now,
            "email": u["email"],
            "phone": u["phone"],
            "app_metadata": u["app_metadata"],
            "user_metadata": u["user_metadata"],
            "role": u["role"],
            "aal": "aal1",
            "amr": [{"method": "password", "timestamp": amr_time}],
            "session_id": session_id,
            "is_anonymous": u["is_anonymous"],
        }
        return tokens.sign(claims, self.jwt_secret)

    def _session_body(self, user: dict[str, Any], session_id: str, refresh: str) -> dict[str, Any]:
        now = int(time.time())
        return {
            "access_token": self._access_token(user, session_id, now),
            "token_type": "bearer",
            "expires_in": self.jwt_expiry,
            "expires_at": now + self.jwt_expiry,
            "refresh_token": refresh,
            "user": users.user_json(user),
        }

    @staticmethod
    def _banned(user: dict[str, Any]) -> bool:
        until = user["banned_until"]
        return until is not None and until > datetime.now(UTC)

    def _claims(self, request: web.Request) -> dict[str, Any]:
        token = bearer(request)
        if token is None:
            raise AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token")
        try:
            return tokens.verify(token, self.jwt_secret)
        except tokens.TokenError as exc:
            msg = "invalid JWT: unable to parse or verify signature, " + exc.message
            if exc.expired:
                msg = "invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired"
            raise AuthError(403, "bad_jwt", msg) from exc

    def _user_claims(self, request: web.Request) -> dict[str, Any]:
        claims = self._claims(request)
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise AuthError(403, "bad_jwt", "invalid claim: missing sub claim")
        return claims

    # -- endpoints -----------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.StreamResponse:
        return _ok(
            request,
            {"version": "caterking-local", "name": "GoTrue", "description": "GoTrue-compatible"},
        )

    async def settings(self, request: web.Request) -> web.StreamResponse:
        return _ok(
            request,
            {
                "external": {"email": True, "phone": False, "anonymous_users": False},
                "disable_signup": True,
                "mailer_autoconfirm": False,
                "phone_autoconfirm": False,
                "sms_provider": "",
                "saml_enabled": False,
            },
        )

    async def signup(self, request: web.Request) -> web.StreamResponse:
        """Accounts are made by the service role (admin API) only: GoTrue's answer when
        sign-ups are disabled (settings say `disable_signup`)."""
        raise AuthError(422, "signup_disabled", "Signups not allowed for this instance")

    @staticmethod
    def _peer(request: web.Request) -> str:
        return request.remote or "?"

    async def token(self, request: web.Request) -> web.StreamResponse:
        grant = request.query.get("grant_type", "")
        body = await _json(request)
        if grant == "password":
            return await self._password_grant(request, body)
        if grant == "refresh_token":
            return await self._refresh_grant(request, body)
        raise AuthError(400, "unsupported_grant_type", "unsupported_grant_type")

    async def _password_grant(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        wait = self.sign_ins.take(self._peer(request))
        if wait is not None:
            raise _rate_limited(wait)
        email = body.get("email")
        password = body.get("password")
        if not isinstance(password, str) or not password:
            raise AuthError(400, "validation_failed", "Password required")
        if not isinstance(email, str) or not email:
            if body.get("phone"):
                raise AuthError(400, "phone_provider_disabled", "Phone logins are disabled")
            raise AuthError(400, "validation_failed", "An email address is required")
        # Too many wrong passwords for this account (from anywhere): no more guesses are
        # checked until the window lets one through, the right password included.
        account = email.strip().lower()
        wait = self.failures.retry_after(account)
        if wait is not None:
            raise _rate_limited(wait)
        async with self.pool.connection() as conn:
            user = await users.find_by_email(conn, email)
        stored = user["encrypted_password"] if user else None
        if not await users.check_password(stored, password) or user is None:
            self.failures.take(account)
            raise AuthError(400, "invalid_credentials", "Invalid login credentials")
        if user["email_confirmed_at"] is None:
            raise AuthError(400, "email_not_confirmed", "Email not confirmed")
        if self._banned(user):
            raise AuthError(400, "user_banned", "User is banned")
        async with admin_tx(self.pool) as conn:
            session_id, refresh = await users.new_session(conn, str(user["id"]))
            fresh = await users.get_user(conn, str(user["id"]))
        assert fresh is not None
        return _ok(request, self._session_body(fresh, session_id, refresh))

    async def _refresh_grant(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        wait = self.refreshes.take(self._peer(request))
        if wait is not None:
            raise _rate_limited(wait)
        token = body.get("refresh_token")
        if not isinstance(token, str) or not token:
            raise AuthError(400, "validation_failed", "Refresh token required")
        theft = False
        async with admin_tx(self.pool) as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "select rt.user_id, rt.session_id, rt.revoked, "
                "extract(epoch from now() - rt.updated_at)::float8 as age "
                "from auth.refresh_tokens rt where rt.token = %s for update",
                (token,),
            )
            row = await cur.fetchone()
            if row is None:
                raise AuthError(
                    400,
                    "refresh_token_not_found",
                    "Invalid Refresh Token: Refresh Token Not Found",
                )
            session_id = str(row["session_id"])
            active: str | None = None
            if row["revoked"] and row["age"] < self.refresh_reuse_interval:
                # A reply lost in transit: hand out the session's current token again.
                await cur.execute(
                    "select token from auth.refresh_tokens "
                    "where session_id = %s and not revoked order by id desc limit 1",
                    (session_id,),
                )
                found = await cur.fetchone()
                if found is None:
                    raise _already_used()
                active = str(found["token"])
            elif row["revoked"]:
                # Reuse long after rotation is a theft signal: revoke the whole session's
                # refresh tokens, commit that, and refuse (below, outside the transaction).
                await conn.execute(
                    "update auth.refresh_tokens set revoked = true, updated_at = now() "
                    "where session_id = %s and not revoked",
                    (session_id,),
                )
                theft = True
            user = None if theft else await users.get_user(conn, str(row["user_id"]))
            new = active
            if user is not None and not self._banned(user) and new is None:
                await conn.execute(
                    "update auth.refresh_tokens set revoked = true, updated_at = now() "
                    "where token = %s",
                    (token,),
                )
                await conn.execute(
                    "update auth.sessions set updated_at = now() where id = %s", (session_id,)
                )
                new = await users.new_refresh_token(conn, str(user["id"]), session_id, token)
        if theft:
            log.warning("auth: refresh token reused after rotation; session %s revoked", session_id)
            raise _already_used()
        if user is None:
            raise AuthError(
                400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
            )
        if self._banned(user):
            raise AuthError(400, "user_banned", "User is banned")
        assert new is not None
        return _ok(request, self._session_body(user, session_id, new))

    async def get_user(self, request: web.Request) -> web.StreamResponse:
        claims = self._user_claims(request)
        async with self.pool.connection() as conn:
            sid = claims.get("session_id")
            if isinstance(sid, str) and sid and not await users.session_exists(conn, sid):
                raise AuthError(
                    403, "session_not_found", "Session from session_id claim in JWT does not exist"
                )
            user = await users.get_user(conn, str(claims["sub"]))
        if user is None:
            raise AuthError(403, "user_not_found", "User from sub claim in JWT does not exist")
        return _ok(request, users.user_json(user))

    async def logout(self, request: web.Request) -> web.StreamResponse:
        claims = self._user_claims(request)
        scope = request.query.get("scope", "global")
        if scope not in ("global", "local", "others"):
            raise AuthError(400, "validation_failed", "Unsupported logout scope")
        sid = claims.get("session_id")
        sub = str(claims["sub"])
        async with admin_tx(self.pool) as conn:
            if scope == "global":
                await conn.execute("delete from auth.sessions where user_id = %s", (sub,))
            elif isinstance(sid, str) and sid:
                op = "=" if scope == "local" else "<>"
                await conn.execute(
                    f"delete from auth.sessions where user_id = %s and id::text {op} %s",
                    (sub, sid),
                )
        return _ok(request, None, status=204)

    # -- admin ----------------------------------------------------------------------------

    def _require_admin(self, request: web.Request) -> None:
        claims = self._claims(request)
        if claims.get("role") not in ADMIN_ROLES:
            raise AuthError(403, "not_admin", "User not allowed")

    @staticmethod
    def _metadata(body: dict[str, Any], key: str) -> dict[str, Any] | None:
        value = body.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise AuthError(400, "validation_failed", f"{key} must be an object")
        return value

    @staticmethod
    def _ban(body: dict[str, Any]) -> tuple[bool, datetime | None]:
        """(given, banned_until) from `ban_duration`."""
        value = body.get("ban_duration")
        if value is None:
            return False, None
        if not isinstance(value, str):
            raise AuthError(400, "validation_failed", "invalid format for ban duration")
        if value == "none":
            return True, None
        dur = users.parse_go_duration(value)
        if dur is None:
            raise AuthError(400, "validation_failed", "invalid format for ban duration")
        return True, datetime.now(UTC) + dur

    def _check_password_strength(self, password: Any) -> None:
        """GoTrue's weak_password (422), at this server's minimum length."""
        if password is None:
            return
        least = self.limits.min_password_length
        if not isinstance(password, str) or len(password) < least:
            raise AuthError(
                422,
                "weak_password",
                f"Password should be at least {least} characters.",
                extra={"weak_password": {"reasons": ["length"]}},
            )

    async def admin_create(self, request: web.Request) -> web.StreamResponse:
        self._require_admin(request)
        body = await _json(request)
        email = body.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise AuthError(400, "validation_failed", "Unable to validate email address")
        password = body.get("password")
        self._check_password_strength(password)
        _, banned_until = self._ban(body)
        pw_hash = await users.hash_password(password) if password else None
        user_id = body.get("id")
        if user_id is not None:
            try:
                user_id = str(uuid.UUID(str(user_id)))
            except ValueError as exc:
                raise AuthError(400, "validation_failed", "id must be a UUID") from exc
        try:
            async with admin_tx(self.pool) as conn:
                row = await users.insert_user(
                    conn,
                    email=email.strip(),
                    password_hash=pw_hash,
                    app_metadata=self._metadata(body, "app_metadata") or {},
                    user_metadata=self._metadata(body, "user_metadata") or {},
                    email_confirm=bool(body.get("email_confirm")),
                    phone=body.get("phone") if isinstance(body.get("phone"), str) else None,
                    banned_until=banned_until,
                    user_id=user_id,
                )
        except psycopg.errors.UniqueViolation as exc:
            raise AuthError(
                422, "email_exists", "A user with this email address has already been registered"
            ) from exc
        return _ok(request, users.user_json(row))

    async def admin_list(self, request: web.Request) -> web.StreamResponse:
        """GoTrue's list: newest first (`sort=created_at asc|desc`), `page`/`per_page`,
        with `X-Total-Count` and a `Link` header (rel next and last)."""
        self._require_admin(request)
        try:
            page = max(1, int(request.query.get("page") or 1))
            per_page = min(1000, max(1, int(request.query.get("per_page") or 50)))
        except ValueError as exc:
            raise AuthError(400, "validation_failed", "Bad Pagination Parameters") from exc
        if (page - 1) * per_page > MAX_OFFSET:
            raise AuthError(400, "validation_failed", "Bad Pagination Parameters")
        order = "desc"
        for value in request.query.getall("sort", []):
            field, _, direction = value.partition(" ")
            if field != "created_at" or direction.lower() not in ("", "asc", "desc"):
                raise AuthError(400, "validation_failed", f"Bad Sort Parameters: {value!r}")
            order = direction.lower() or "desc"
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                f"select {users.USER_COLUMNS} from auth.users "
                f"order by created_at {order}, id {order} limit %s offset %s",
                (per_page, (page - 1) * per_page),
            )
            rows = await cur.fetchall()
            cur2 = await conn.execute("select count(*) from auth.users")
            total_row = await cur2.fetchone()
        total = int(total_row[0]) if total_row else 0
        resp = _ok(request, {"aud": "authenticated", "users": [users.user_json(r) for r in rows]})
        resp.headers["X-Total-Count"] = str(total)
        resp.headers["Link"] = _pagination_link(request, page, per_page, total)
        return resp

    async def admin_get(self, request: web.Request) -> web.StreamResponse:
        self._require_admin(request)
        async with self.pool.connection() as conn:
            row = await users.get_user(conn, request.match_info["id"])
        if row is None:
            raise AuthError(404, "user_not_found", "User not found")
        return _ok(request, users.user_json(row))

    async def admin_update(self, request: web.Request) -> web.StreamResponse:
        self._require_admin(request)
        body = await _json(request)
        uid = request.match_info["id"]
        password = body.get("password")
        self._check_password_strength(password)
        pw_hash = await users.hash_password(password) if password else None
        ban_given, banned_until = self._ban(body)
        app_meta = self._metadata(body, "app_metadata")
        user_meta = self._metadata(body, "user_metadata")
        try:
            async with admin_tx(self.pool) as conn:
                row = await users.get_user(conn, uid)
                if row is None:
                    raise AuthError(404, "user_not_found", "User not found")
                sets: list[str] = []
                params: list[Any] = []
                if isinstance(body.get("email"), str):
                    sets.append("email = %s")
                    params.append(body["email"].strip())
                if isinstance(body.get("phone"), str):
                    sets.append("phone = %s")
                    params.append(body["phone"])
                if pw_hash is not None:
                    sets.append("encrypted_password = %s")
                    params.append(pw_hash)
                if body.get("email_confirm") is True:
                    sets.append("email_confirmed_at = coalesce(email_confirmed_at, now())")
                if ban_given:
                    sets.append("banned_until = %s")
                    params.append(banned_until)
                if app_meta is not None:
                    sets.append("raw_app_meta_data = %s")
                    params.append(
                        json.dumps(users.merge_metadata(row["raw_app_meta_data"] or {}, app_meta))
                    )
                if user_meta is not None:
                    sets.append("raw_user_meta_data = %s")
                    params.append(
                        json.dumps(users.merge_metadata(row["raw_user_meta_data"] or {}, user_meta))
                    )
                if sets:
                    sets.append("updated_at = now()")
                    await conn.execute(
                        f"update auth.users set {', '.join(sets)} where id = %s", (*params, uid)
                    )
                row = await users.get_user(conn, uid)
        except psycopg.errors.UniqueViolation as exc:
            raise AuthError(
                422, "email_exists", "A user with this email address has already been registered"
            ) from exc
        assert row is not None
        return _ok(request, users.user_json(row))

    async def admin_delete(self, request: web.Request) -> web.StreamResponse:
        self._require_admin(request)
        uid = request.match_info["id"]
        async with admin_tx(self.pool) as conn:
            row = await users.get_user(conn, uid)
            if row is None:
                raise AuthError(404, "user_not_found", "User not found")
            await conn.execute("delete from auth.users where id = %s", (uid,))
        return _ok(request, {})
