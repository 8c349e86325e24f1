"""PostgREST's error envelope for `/rest/v1`: every failure of a request, whatever
raised it, answered with PostgREST's JSON body (`code`, `message`, `details`, `hint`)
and status."""

from __future__ import annotations

import json
import logging
from typing import Any

import psycopg
from aiohttp import web
from psycopg_pool import PoolTimeout

from caterking_server.gateway import Handler

log = logging.getLogger(__name__)

# Whether the request's JWT names a role: a permission error is then 403, else 401.
HAS_ROLE_CLAIM = web.RequestKey("has_role_claim", bool)


class RestError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint

    def response(self) -> web.Response:
        body = {
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "hint": self.hint,
        }
        headers = {}
        if self.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return web.Response(
            status=self.status,
            body=json.dumps(body).encode(),
            content_type="application/json",
            charset="utf-8",
            headers=headers,
        )


def parse_error(message: str, details: str | None = None) -> RestError:
    return RestError(400, "PGRST100", message, details)


def status_for_sqlstate(state: str, has_role_claim: bool) -> int:
    if state == "42501":
        return 403 if has_role_claim else 401
    if state in ("23505", "23503"):
        return 409
    if state in ("42883", "42P01"):
        return 404
    if state == "42P17":
        return 500
    if state.startswith("PT") and state[2:].isdigit():
        return int(state[2:])
    if state.startswith(("08", "53")):
        return 503
    if state == "25006":
        return 405
    if state == "57014":  # statement timeout / cancel
        return 500
    if state == "P0001":
        return 400
    if state.startswith(("P0", "XX", "40")):
        return 500
    return 400


def from_db_error(exc: psycopg.Error, has_role_claim: bool) -> RestError:
    state = exc.sqlstate or ""
    diag: Any = exc.diag
    message = diag.message_primary or str(exc).strip() or "database error"
    if not state:
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            # Connection trouble without a SQLSTATE: retryable unavailability.
            return RestError(
                503, "PGRST001", "Database client error. Retrying the connection.", message
            )
        # Raised by the driver before Postgres saw the request (e.g. a NUL byte in a
        # text value): the request is at fault and retrying cannot help.
        return RestError(400, "PGRST100", f"Invalid request value: {message}", message)
    return RestError(
        status_for_sqlstate(state, has_role_claim),
        state,
        message,
        diag.message_detail,
        diag.message_hint,
    )


def _unsupported_method(request: web.Request) -> RestError:
    if request.path.startswith("/rest/v1/rpc/"):
        return RestError(405, "PGRST101", "Only GET, HEAD and POST are allowed for functions")
    return RestError(405, "PGRST117", f"Unsupported HTTP method: {request.method}")


@web.middleware
async def postgrest_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The envelope: RestError as it says; the pool exhausted → 503 PGRST003; a database
    error by its SQLSTATE (as PostgREST maps them); anything else → 500 PGRST000, logged.
    A method a route does not take is PostgREST's 405; other routing answers (404) pass.
    HEAD gets the headers of GET without the body."""
    try:
        response = await handler(request)
    except web.HTTPMethodNotAllowed:
        return _unsupported_method(request).response()
    except web.HTTPException:
        raise
    except RestError as err:
        return err.response()
    except PoolTimeout:
        return RestError(
            503, "PGRST003", "Timed out acquiring connection from connection pool."
        ).response()
    except psycopg.Error as exc:
        db_err = from_db_error(exc, request.get(HAS_ROLE_CLAIM, False))
        if db_err.status >= 500:
            log.warning("rest: %s %s: %s", request.method, request.path, exc)
        return db_err.response()
    except Exception:
        log.exception("rest: unexpected failure on %s %s", request.method, request.path)
        return RestError(500, "PGRST000", "Internal server error").response()
    if request.method == "HEAD" and isinstance(response, web.Response):
        response.body = b""
    return response
