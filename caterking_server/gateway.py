"""What Supabase's API gateway (Kong) does before a request reaches Auth or REST."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web

from caterking_server import tokens

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def api_key(request: web.Request) -> str | None:
    """The `apikey` header (any case) or `?apikey=` query parameter."""
    return request.headers.get("apikey") or request.query.get("apikey") or None


def bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def gateway_refusal(request: web.Request, secret: str) -> web.Response | None:
    """401 as Kong answers when the apikey is missing or is not one of this project's keys."""
    key = api_key(request)
    if key is None:
        return web.json_response(
            {
                "message": "No API key found in request",
                "hint": "No `apikey` request header or url param was found.",
            },
            status=401,
        )
    try:
        tokens.verify(key, secret)
    except tokens.TokenError:
        return web.json_response(
            {
                "message": "Invalid API key",
                "hint": "Double check your Supabase `anon` or `service_role` API key.",
            },
            status=401,
        )
    return None


def api_key_required(secret: str, *, public: frozenset[str] = frozenset()) -> Any:
    """Kong's key-auth in front of a surface: a routed request without one of this
    project's keys is refused (401) before its handler runs, except on the `public`
    paths. A request the router could not place (404, 405) is left to the router."""

    @web.middleware
    async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.http_exception is None and request.path not in public:
            refused = gateway_refusal(request, secret)
            if refused is not None:
                return refused
        return await handler(request)

    return gateway


class BodyTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"request body of {size} bytes")
        self.size = size


async def read_capped(request: web.Request, limit: int) -> bytes:
    """The request body, refused (BodyTooLarge) as soon as it is known to exceed `limit`:
    from Content-Length before reading, or after reading just past the limit."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(declared)
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge(total)
        chunks.append(chunk)
    return b"".join(chunks)


def rest_query_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The query as PostgREST sees it: Kong's key-auth hides the `apikey` credential."""
    return [(k, v) for k, v in pairs if k != "apikey"]


# CORS as hosted Supabase answers browsers: its gateway (Kong's cors plugin) answers
# preflights itself (before the API key is checked) with the request's headers allowed,
# and the services expose the headers their clients read: PostgREST's Content-Range
# (counts) and friends, GoTrue's X-Total-Count, Link and API version.
CORS_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS"
EXPOSED = {
    "/rest/v1": "Content-Encoding, Content-Location, Content-Range, Content-Type, Date, "
    "Location, Server, Transfer-Encoding, Range-Unit",
    "/auth/v1": "X-Total-Count, Link, X-Supabase-Api-Version",
    "/realtime/v1": "",
    "/kitchen/v1": "",
}


def _surface(path: str) -> str | None:
    for prefix in EXPOSED:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return None


def cors_middleware(origins: tuple[str, ...]) -> Any:
    """`origins`: ("*",) (the default, as the anon-key surfaces on hosted Supabase) or
    the exact origins allowed (then echoed, with `Vary: Origin`); other origins get no
    CORS headers (the browser refuses) and cannot open a WebSocket."""
    any_origin = "*" in origins
    allowed = frozenset(origins)

    def allow(origin: str, surface: str) -> dict[str, str]:
        headers = {"Access-Control-Allow-Origin": "*" if any_origin else origin}
        if EXPOSED[surface]:
            headers["Access-Control-Expose-Headers"] = EXPOSED[surface]
        if not any_origin:
            headers["Vary"] = "Origin"
        return headers

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        surface = _surface(request.path)
        origin = request.headers.get(hdrs.ORIGIN)
        if surface is None or origin is None:
            return await handler(request)
        ok = any_origin or origin in allowed
        if request.method == "OPTIONS" and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers:
            headers: dict[str, str] = {"Vary": "Origin"} if not any_origin else {}
            if ok:
                headers = allow(origin, surface)
                headers.pop("Access-Control-Expose-Headers", None)
                headers["Access-Control-Allow-Methods"] = CORS_METHODS
                wanted = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS)
                if wanted:
                    headers["Access-Control-Allow-Headers"] = wanted
                headers["Access-Control-Max-Age"] = "3600"
            return web.Response(status=200, headers=headers)
        if not ok:
            if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
                return web.json_response({"message": f"Origin {origin} is not allowed"}, status=403)
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers.update(allow(origin, surface))
            raise
        if not response.prepared:
            response.headers.update(allow(origin, surface))
        return response

    return cors
