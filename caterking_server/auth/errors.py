"""GoTrue's error envelope for `/auth/v1`: every failure of a request, whatever raised
it, answered in GoTrue's JSON shape: `{"code", "message"}` when the client names an
API version (X-Supabase-Api-Version), else the older `{"code": status, "error_code",
"msg"}`."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from aiohttp import web
from psycopg_pool import PoolTimeout

from caterking_server.gateway import Handler

log = logging.getLogger(__name__)

API_VERSION_HEADER = "X-Supabase-Api-Version"


class AuthError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}


def error_response(request: web.Request, err: AuthError) -> web.Response:
    version = request.headers.get(API_VERSION_HEADER)
    if version:
        body: dict[str, Any] = {"code": err.code, "message": err.message}
        headers = {API_VERSION_HEADER: version}
    else:
        body = {"code": err.status, "error_code": err.code, "msg": err.message}
        headers = {}
    body.update(err.extra)
    headers.update(err.headers)
    return web.json_response(body, status=err.status, headers=headers)


@web.middleware
async def gotrue_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """AuthError as it says; the database unreachable → 503; a value the driver refused
    → 400 (the request is at fault, and a 500 would invite retries); any other failure
    → 500 `unexpected_failure`, logged. Routing answers (404, 405) pass."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except AuthError as err:
        return error_response(request, err)
    except (PoolTimeout, psycopg.OperationalError, psycopg.InterfaceError) as exc:
        log.warning("auth: database unavailable: %s", exc)
        return error_response(request, AuthError(503, "unexpected_failure", "Database unavailable"))
    except psycopg.Error as exc:
        if not exc.sqlstate:
            # Refused by the driver before Postgres saw it (e.g. a NUL byte in a value).
            return error_response(
                request, AuthError(400, "validation_failed", f"Invalid value: {exc}")
            )
        log.exception("auth: database error")
        return error_response(
            request, AuthError(500, "unexpected_failure", "Internal server error")
        )
    except Exception:
        # GoTrue answers every unhandled failure with its JSON error shape.
        log.exception("auth: unexpected failure on %s %s", request.method, request.path)
        return error_response(
            request, AuthError(500, "unexpected_failure", "Internal server error")
        )
