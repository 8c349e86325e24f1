"""How HTTP replies are classified: only PostgREST's own 4xx refuses an action for good;
gateways, rate limits and captive portals are outages, retried with the same op id."""

from __future__ import annotations

import httpx
import pytest

from caterking_display.backend import SupabaseBackend
from caterking_display.backend.types import AuthExpired, ServerRefused, TransportError

PGRST = {"code": "22P02", "message": "invalid input syntax for type uuid", "details": None}


def reply(status: int, body: object = None, text: str | None = None) -> httpx.Response:
    req = httpx.Request("POST", "http://x/rest/v1/rpc/claim_task")
    if text is not None:
        return httpx.Response(status, text=text, request=req)
    return httpx.Response(status, json=body, request=req)


@pytest.fixture
def backend() -> SupabaseBackend:
    return SupabaseBackend("http://127.0.0.1:9", "anon")


def test_postgrest_refusal_is_final(backend: SupabaseBackend) -> None:
    with pytest.raises(ServerRefused) as info:
        backend._check(reply(400, PGRST), "claim_task")
    assert info.value.code == "22P02"


@pytest.mark.parametrize(
    ("status", "body", "text"),
    [
        (502, None, "<html>Bad gateway</html>"),
        (503, {"message": "upstream"}, None),
        (504, None, ""),
        (429, {"code": "over_request_rate_limit", "message": "slow down"}, None),
        (408, None, ""),
        (302, None, "<html>Sign in to Kitchen-WiFi</html>"),
        (404, None, "<html>Not found</html>"),
        (403, None, "<html>Forbidden by proxy</html>"),
    ],
)
def test_outages_and_portals_are_retried(
    backend: SupabaseBackend, status: int, body: object, text: str | None
) -> None:
    with pytest.raises(TransportError) as info:
        backend._check(reply(status, body, text), "claim_task")
    assert info.value.answered is False


def test_database_error_counts_as_answered(backend: SupabaseBackend) -> None:
    with pytest.raises(TransportError) as info:
        backend._check(reply(500, {"code": "XX000", "message": "boom"}), "claim_task")
    assert info.value.answered is True


def test_expired_jwt_asks_for_a_new_token(backend: SupabaseBackend) -> None:
    with pytest.raises(AuthExpired):
        backend._check(reply(401, {"code": "PGRST303", "message": "JWT expired"}), "tasks")


async def test_portal_page_at_sign_in_is_an_outage_not_bad_credentials() -> None:
    backend = SupabaseBackend("http://kitchen.local", "anon")
    await backend._http.aclose()
    backend._http = httpx.AsyncClient(
        base_url="http://kitchen.local",
        transport=httpx.MockTransport(lambda req: httpx.Response(404, text="<html>portal</html>")),
    )
    with pytest.raises(TransportError):
        await backend.sign_in("d@x.y", "pw")
    await backend.aclose()


async def test_a_refused_connection_is_known_not_to_have_reached_the_server() -> None:
    # Nothing listens on port 9 (discard): the request never left, so an undo may still
    # withdraw the action rather than send its opposite.
    from caterking_display.domain.actions import Action

    backend = SupabaseBackend("http://127.0.0.1:9", "anon")
    try:
        with pytest.raises(TransportError) as info:
            await backend.call_action(Action.CLAIM, "t", "s", "o", "d", 2.0)
        assert info.value.sent is False
    finally:
        await backend.aclose()
