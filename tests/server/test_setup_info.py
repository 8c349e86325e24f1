"""`/kitchen/v1/setup`: a display's first-run setup finds the kitchen server by asking
for it on the LAN. Over real sockets, against the session's kitchen server."""

from __future__ import annotations

import httpx
import pytest

from caterking_display import device_setup
from caterking_display.domain.setup import FoundServer
from caterking_server.ratelimit import RateLimiter
from caterking_server.setup_info import advertised_url, server_name
from caterking_server.stack import LocalStack


def setup_url(stack: LocalStack) -> str:
    return f"{stack.url}/kitchen/v1/setup"


def test_it_answers_without_a_key_and_tells_nothing_secret(stack: LocalStack) -> None:
    r = httpx.get(setup_url(stack))
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert body == {"url": stack.url, "anon_key": stack.anon_key, "name": stack.name}
    assert body["name"]
    for secret in (stack.service_role_key, stack.jwt_secret, stack.db_dsn):
        assert secret not in r.text
    assert httpx.post(setup_url(stack)).status_code == 405


def test_browsers_may_read_it_as_the_other_surfaces(stack: LocalStack) -> None:
    origin = {"Origin": "http://tablet.local"}
    r = httpx.get(setup_url(stack), headers=origin)
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    r = httpx.options(setup_url(stack), headers={**origin, "Access-Control-Request-Method": "GET"})
    assert r.status_code == 200 and "GET" in r.headers["Access-Control-Allow-Methods"]


def test_it_is_limited_per_client_address(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stack.setup_info is not None
    monkeypatch.setattr(stack.setup_info, "limiter", RateLimiter(2, 300))
    assert [httpx.get(setup_url(stack)).status_code for _ in range(2)] == [200, 200]
    r = httpx.get(setup_url(stack))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["code"] == "over_request_rate_limit"


async def test_the_boards_scan_finds_it(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # The scan asks this machine, then every host of its /24; here only this machine,
    # on the port the session's server got (a kitchen's listens on 54321).
    port = int(stack.url.rsplit(":", 1)[1])
    monkeypatch.setattr(device_setup, "_candidates", lambda p: [f"http://127.0.0.1:{p}"])
    found = await device_setup.scan(port=port, timeout=5.0)
    assert found == [FoundServer(f"http://127.0.0.1:{port}", stack.anon_key)]


def test_the_advertised_url() -> None:
    own = "http://192.168.1.20:54321"
    assert advertised_url(own, "192.168.1.20", ("192.168.1.20", 54321)) == own
    # Listening on every address: the address the display reached.
    assert advertised_url("x", "0.0.0.0", ("10.0.0.7", 54321)) == "http://10.0.0.7:54321"
    assert advertised_url("x", "::", ("::ffff:10.0.0.7", 54321, 0, 0)) == "http://10.0.0.7:54321"
    assert advertised_url("x", "::", ("fe80::1", 54321, 0, 2)) == "http://[fe80::1]:54321"
    assert advertised_url(own, "0.0.0.0", None) == own


def test_the_servers_name() -> None:
    assert server_name("Main kitchen") == "Main kitchen"
    assert server_name("bad\x1b[2Jname\n") == "bad[2Jname"
    assert len(server_name("k" * 200)) == 64
    assert server_name(None) and server_name("  ")
