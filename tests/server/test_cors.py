"""CORS on /auth, /rest and /realtime as hosted Supabase answers browsers (issue 10):
preflights answered before the key check, the headers clients read exposed, allowed
origins configurable (`*` by default). With Debian's chromium installed, a real browser
on another origin checks that it may read the answers (and may not when refused)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from caterking_server.embedded_pg import EmbeddedPostgres
from caterking_server.ratelimit import AuthLimits
from caterking_server.stack import LocalStack
from tests.stack import StackThread, cloned_database

ORIGIN = "http://board.example"
SURFACES = [
    "/rest/v1/tasks",
    "/rest/v1/rpc/claim_task",
    "/auth/v1/token?grant_type=password",
    "/auth/v1/admin/users",
    "/realtime/v1/api/broadcast",
]


def preflight(stack: LocalStack, path: str, origin: str = ORIGIN) -> httpx.Response:
    return httpx.options(
        f"{stack.url}{path}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "apikey, authorization, content-type, x-client-info",
        },
    )


@pytest.mark.parametrize("path", SURFACES)
def test_preflights_are_answered_before_the_key_check(stack: LocalStack, path: str) -> None:
    r = preflight(stack, path)
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in r.headers["Access-Control-Allow-Methods"].split(",")
    assert r.headers["Access-Control-Allow-Headers"] == (
        "apikey, authorization, content-type, x-client-info"
    )


def test_answers_carry_what_browsers_need(stack: LocalStack) -> None:
    key = stack.service_role_key
    auth = {"apikey": key, "Authorization": f"Bearer {key}", "Origin": ORIGIN}
    r = httpx.get(f"{stack.url}/rest/v1/tasks?limit=1", headers={**auth, "Prefer": "count=exact"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Range" in r.headers["Access-Control-Expose-Headers"]
    r = httpx.get(f"{stack.url}/auth/v1/admin/users?per_page=1", headers=auth)
    exposed = r.headers["Access-Control-Expose-Headers"]
    assert "X-Total-Count" in exposed and "Link" in exposed
    assert "X-Supabase-Api-Version" in exposed
    # Refusals too: a browser must be able to read the error.
    for path in ("/rest/v1/tasks", "/auth/v1/user", "/realtime/v1/api/broadcast", "/rest/v1/x/y"):
        r = httpx.get(f"{stack.url}{path}", headers={"Origin": ORIGIN})
        assert r.status_code >= 400 and r.headers["Access-Control-Allow-Origin"] == "*", path
    # Without an Origin (not a browser): nothing added.
    r = httpx.get(f"{stack.url}/auth/v1/health")
    assert "Access-Control-Allow-Origin" not in r.headers


@pytest.fixture(scope="module")
def listed(
    pg_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    with (
        cloned_database(pg_server, "cors") as url,
        StackThread(
            LocalStack(
                tmp_path_factory.mktemp("cors-stack"),
                db_url=url,
                auth_limits=AuthLimits.unlimited(),
                cors_origins=("http://kitchen.local", "https://admin.kitchen.local"),
            )
        ) as s,
    ):
        yield s


def test_only_listed_origins_are_allowed(listed: LocalStack) -> None:
    r = preflight(listed, "/rest/v1/tasks", "https://admin.kitchen.local")
    assert r.headers["Access-Control-Allow-Origin"] == "https://admin.kitchen.local"
    assert r.headers["Vary"] == "Origin"
    r = preflight(listed, "/rest/v1/tasks", "http://evil.example")
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    r = httpx.get(f"{listed.url}/auth/v1/health", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    ws = listed.url.replace("http", "ws", 1) + f"/realtime/v1/websocket?apikey={listed.anon_key}"
    with pytest.raises(InvalidStatus) as err:
        ws_connect(ws, origin="http://evil.example").close()  # type: ignore[arg-type]
    assert err.value.response.status_code == 403
    ws_connect(ws, origin="http://kitchen.local").close()  # type: ignore[arg-type]


# --- a real browser ------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)

PAGE = """<!doctype html><html><body><pre id="out">waiting</pre><script>
const url = %(url)s, key = %(key)s;
async function go() {
  const out = {};
  try {
    const r = await fetch(url + "/rest/v1/tasks?select=id&limit=1", {headers: {
      apikey: key, Authorization: "Bearer " + key, Prefer: "count=exact"}});
    out.rest = r.status; out.range = r.headers.get("content-range");
  } catch (e) { out.rest = "blocked"; }
  try {
    const r = await fetch(url + "/auth/v1/token?grant_type=password", {method: "POST",
      headers: {apikey: key, "Content-Type": "application/json",
                "X-Supabase-Api-Version": "2024-01-01"},
      body: JSON.stringify({email: "nobody@kitchen.example", password: "not the password"})});
    out.auth = r.status; out.version = r.headers.get("x-supabase-api-version");
    out.code = (await r.json()).code;
  } catch (e) { out.auth = "blocked"; }
  document.getElementById("out").textContent = JSON.stringify(out);
}
go();
</script></body></html>"""


def browse(stack: LocalStack, key: str, tmp_path: Path) -> dict[str, object]:
    """Open a page served from another origin in headless chromium; what it could read."""
    html = (PAGE % {"url": json.dumps(stack.url), "key": json.dumps(key)}).encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert CHROMIUM is not None
        done = subprocess.run(
            [
                CHROMIUM,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'chromium'}",
                "--virtual-time-budget=15000",
                "--dump-dom",
                f"http://127.0.0.1:{server.server_address[1]}/",
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        server.shutdown()
    m = re.search(r'<pre id="out">(.*?)</pre>', done.stdout, re.S)
    assert m, done.stdout[-2000:] + done.stderr[-2000:]
    result: dict[str, object] = json.loads(m.group(1).replace("&quot;", '"'))
    return result


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
@pytest.mark.timeout(240)
def test_a_browser_on_another_origin_reads_answers_and_is_refused_when_not_listed(
    stack: LocalStack, listed: LocalStack, tmp_path: Path
) -> None:
    got = browse(stack, stack.service_role_key, tmp_path / "a")
    # Content-Range (the count) is readable: exposed, as PostgREST exposes it.
    assert got["rest"] in (200, 206) and re.fullmatch(r"(\d+-\d+|\*)/\d+", str(got["range"])), got
    assert got == {**got, "auth": 400, "version": "2024-01-01", "code": "invalid_credentials"}
    refused = browse(listed, listed.service_role_key, tmp_path / "b")
    assert refused == {"rest": "blocked", "auth": "blocked"}
