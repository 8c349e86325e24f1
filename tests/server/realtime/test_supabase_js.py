"""supabase-js (the browser/Node client) against the local stack with its default options:
realtime vsn 2.0.0, sign-in with `signInWithPassword`, a private kitchen channel and
postgres_changes (issue 3, item 6).

The client is installed with npm into a cache outside the repository
(`$XDG_CACHE_HOME/caterking-tests/npm`, default `~/.cache/...`); the test is skipped only
when npm is not installed."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from caterking_server.stack import LocalStack
from tests.pg import Kitchen, add_task, connect, seed_kitchen
from tests.server.helpers import PASSWORD, create_user, display_meta

PACKAGES = ["@supabase/supabase-js@2", "ws@8"]  # ws: Node < 22 has no global WebSocket

SCRIPT = r"""
const { createClient } = require('@supabase/supabase-js');
const [url, anonKey, email, password, kitchen] = process.argv.slice(2);
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const options = {};
if (typeof globalThis.WebSocket === 'undefined') {
  options.realtime = { transport: require('ws') };  // the documented Node < 22 set-up
}
(async () => {
  const supabase = createClient(url, anonKey, options);
  const { data, error } = await supabase.auth.signInWithPassword({ email, password });
  if (error) { say({ kind: 'error', message: String(error.message) }); process.exit(2); }
  await supabase.realtime.setAuth(data.session.access_token);
  say({ kind: 'ready', vsn: supabase.realtime.vsn });
  supabase
    .channel(`kitchen:${kitchen}`, { config: { private: true } })
    .on('postgres_changes',
        { event: '*', schema: 'public', table: 'tasks', filter: `kitchen_id=eq.${kitchen}` },
        (p) => say({ kind: 'change', eventType: p.eventType, table: p.table, new: p.new }))
    .on('system', {}, (p) => say({ kind: 'system', message: p.message, status: p.status }))
    .subscribe((status, err) => say({ kind: 'status', status, err: err ? String(err) : null }));
})().catch((e) => { say({ kind: 'error', message: String(e) }); process.exit(3); });
"""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "caterking-tests" / "npm" / "supabase-js-2"


@pytest.fixture(scope="session")
def supabase_js() -> Iterator[Path]:
    """A directory whose node_modules holds supabase-js 2 (installed once, then cached)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("npm/node not installed: the supabase-js conformance test needs them")
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    marker = root / ".installed"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer across xdist workers
        installed = marker.read_text() if marker.exists() else ""
        if installed != " ".join(PACKAGES):
            subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--prefix", str(root), *PACKAGES],
                check=True,
                capture_output=True,
                timeout=300,
            )
            marker.write_text(" ".join(PACKAGES))
    yield root


async def read_until(
    proc: asyncio.subprocess.Process, pred: Any, seen: list[dict[str, Any]], limit: float = 30
) -> dict[str, Any]:
    assert proc.stdout is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"supabase-js did not print the expected line; got {seen}")
        line = await asyncio.wait_for(proc.stdout.readline(), left)
        if not line:
            err = await proc.stderr.read() if proc.stderr else b""
            raise AssertionError(f"node exited: {seen} {err.decode(errors='replace')}")
        msg = json.loads(line)
        seen.append(msg)
        if msg.get("kind") == "error":
            raise AssertionError(f"supabase-js error: {msg}")
        if pred(msg):
            return msg


async def test_supabase_js_default_options_receive_change(
    supabase_js: Path, stack: LocalStack, kitchen: Kitchen, tmp_path: Path
) -> None:
    with connect(stack.db_dsn) as conn:
        other = seed_kitchen(conn)
    _, email = create_user(stack, app_metadata=display_meta(kitchen))
    script = tmp_path / "listen.cjs"
    script.write_text(SCRIPT)
    env = dict(os.environ, NODE_PATH=str(supabase_js / "node_modules"))
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(script),
        stack.url,
        stack.anon_key,
        email,
        PASSWORD,
        kitchen.kitchen_id,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    seen: list[dict[str, Any]] = []
    try:
        ready = await read_until(proc, lambda m: m["kind"] == "ready", seen)
        assert ready["vsn"] == "2.0.0"  # supabase-js's default serializer
        await read_until(proc, lambda m: m.get("message") == "Subscribed to PostgreSQL", seen)
        assert {"kind": "status", "status": "SUBSCRIBED", "err": None} in seen
        with connect(stack.db_dsn) as conn:
            add_task(conn, other, title="other kitchen")  # filtered out (and RLS)
            tid = add_task(conn, kitchen, title="Braise short ribs", quantity=12)
        change = await read_until(proc, lambda m: m["kind"] == "change", seen)
        assert change["eventType"] == "INSERT" and change["table"] == "tasks"
        assert change["new"]["id"] == tid
        assert change["new"]["title"] == "Braise short ribs"
        assert change["new"]["kitchen_id"] == kitchen.kitchen_id
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
