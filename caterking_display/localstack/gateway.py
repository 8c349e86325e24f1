"""What Supabase's API gateway (Kong) does before a request reaches Auth or REST."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from caterking_display.localstack import tokens


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


def json_body_or_none(raw: bytes) -> Any:
    import json

    if not raw.strip():
        return None
    return json.loads(raw)
