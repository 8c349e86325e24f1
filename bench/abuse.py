"""Abuse cases against `caterking-server serve`: what one hostile client on the kitchen
LAN costs everybody else.

Starts `serve` in its own process (embedded PostgreSQL on a temp data dir, or
`--db-url`), then runs each case and prints its figures:

- flood: other subscribers' commit-to-client latency, quiet and while one socket holds
  2 channels × 34,000 postgres_changes bindings (the reported attack), and while sockets
  hold the most the server accepts (100 channels × 100 bindings each);
- teardown: the longest event-loop stall (a probe's heartbeat round trip) while sockets
  holding 8,000 channels in all close;
- slow: server RSS while three sockets that never read get 40 REST broadcasts of 4 MB
  (and of 4 × 240 KiB, within the limits), and whether a reading subscriber and a
  postgres_changes subscriber kept up;
- device: a board's fetch of its tasks after `p_device` strings of many MB;
- signin: wrong passwords at 50/s against one account: how many got through to a
  password check before 429.

    .venv/bin/python bench/abuse.py [--cases flood,teardown,slow,device,signin]
        [--seconds 5] [--db-url URL] [--smoke]

`--smoke` runs every case small, in a few seconds (tests/test_bench_abuse.py runs it).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import machine  # noqa: E402
from caterking_server import tokens  # noqa: E402
from caterking_server.embedded_pg import free_port  # noqa: E402

CASES = ("flood", "teardown", "slow", "device", "signin")


@dataclass
class Sizes:
    seconds: float = 5.0
    rate: int = 20
    subscribers: int = 5
    flood_channels: int = 2
    flood_bindings: int = 34_000
    max_sockets: int = 3  # sockets at the accepted maximum (100 × 100 each)
    teardown_channels: int = 8_000
    slow_readers: int = 3
    slow_posts: int = 40
    slow_mb: float = 4.0
    device_mb: float = 12.0
    device_claims: int = 5
    signin_attempts: int = 200
    signin_rate: float = 50.0


SMOKE = Sizes(
    seconds=0.5,
    rate=10,
    subscribers=2,
    flood_channels=2,
    flood_bindings=300,
    max_sockets=1,
    teardown_channels=300,
    slow_readers=2,
    slow_posts=4,
    slow_mb=2.0,
    device_mb=0.2,
    device_claims=2,
    signin_attempts=30,
    signin_rate=100.0,
)


class Server:
    """`caterking-server serve` in its own process; its stderr goes to `log_path`."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        db_url: str | None,
        extra: list[str],
        profile: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.log_path = data_dir.parent / "serve.log"
        cmd = [sys.executable]
        if profile:
            cmd += ["-m", "cProfile", "-o", profile]
        cmd += ["-m", "caterking_server.cli", "serve", "--port", str(port)]
        cmd += ["--data-dir", str(data_dir)]
        if db_url:
            cmd += ["--db-url", db_url]
        cmd += extra
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self._log, stdin=subprocess.DEVNULL
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"serve exited with {self.proc.returncode}: {self.log()}")
            if (data_dir / "stack.env").exists():
                try:
                    if httpx.get(f"{self.url}/auth/v1/health", timeout=1).status_code < 500:
                        break
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise SystemExit("serve did not come up")
            time.sleep(0.1)
        env = dict(
            ln.split("=", 1)
            for ln in (data_dir / "stack.env").read_text().splitlines()
            if "=" in ln
        )
        self.anon = env["SUPABASE_ANON_KEY"]
        self.service = env["SUPABASE_SERVICE_ROLE_KEY"]
        self.db_url = env["CATERKING_DB_URL"]
        self.secret: str = json.loads((data_dir / "stack.json").read_text())["jwt_secret"]
        self.ps = psutil.Process(self.proc.pid)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/realtime/v1/websocket"

    def rss_mb(self) -> float:
        try:
            return self.ps.memory_info().rss / 2**20
        except psutil.Error:
            return float("nan")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


async def until(cond: Any, within: float) -> bool:
    """Poll `cond` for up to `within` seconds; whether it came true."""
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def claims(tenant: str, kitchen: str, **extra: Any) -> dict[str, Any]:
    return {
        "role": "authenticated",
        "sub": str(uuid.uuid4()),
        "exp": int(time.time()) + 3600,
        "app_metadata": {"tenant_id": tenant, "kitchen_id": kitchen, "device_kind": "display"},
        **extra,
    }


def frame(topic: str, event: str, payload: Any, ref: str | None = None) -> str:
    return json.dumps(
        {"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": ref},
        separators=(",", ":"),
    )


@dataclass
class Kitchen:
    tenant: str
    kitchen: str
    staff: str
    task: str


def seed(server: Server) -> Kitchen:
    k = Kitchen(*(str(uuid.uuid4()) for _ in range(4)))
    with psycopg.connect(server.db_url, autocommit=True) as c:
        c.execute("insert into tenants (id, name) values (%s, 'Abuse')", (k.tenant,))
        c.execute(
            "insert into kitchens (id, tenant_id, name) values (%s, %s, 'K')", (k.kitchen, k.tenant)
        )
        c.execute(
            "insert into staff (id, tenant_id, kitchen_id, display_name, initials) "
            "values (%s, %s, %s, 'Chef', 'CH')",
            (k.staff, k.tenant, k.kitchen),
        )
        c.execute(
            "insert into tasks (id, tenant_id, kitchen_id, title) values (%s, %s, %s, 'probe')",
            (k.task, k.tenant, k.kitchen),
        )
    return k


# --- legitimate subscribers: commit-to-client latency ---------------------------------


@dataclass
class Subscribers:
    session: aiohttp.ClientSession
    sockets: list[aiohttp.ClientWebSocketResponse] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    broadcasts: int = 0
    subscribed: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for t in self.readers:
            t.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


async def subscribe(
    server: Server, k: Kitchen, n: int, session: aiohttp.ClientSession
) -> Subscribers:
    subs = Subscribers(session)
    notes_key = '"notes":"'

    async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.time()
            data: str = msg.data
            if '"event":"postgres_changes"' in data[:200]:
                at = data.find(notes_key, data.find('"record":'))
                if at > 0:
                    at += len(notes_key)
                    with contextlib.suppress(ValueError):
                        sent = float(data[at : data.index('"', at)])
                        subs.latencies.append((now - sent) * 1000)
                continue
            if '"event":"broadcast"' in data[:200]:
                subs.broadcasts += 1
                continue
            f = json.loads(data)
            if f.get("event") == "system" and f["payload"].get("status") == "ok":
                subs.subscribed += 1
                if subs.subscribed >= n:
                    subs.ready.set()

    for i in range(n):
        ws = await session.ws_connect(
            server.ws_url, params={"apikey": server.anon, "vsn": "1.0.0"}, max_msg_size=0
        )
        subs.sockets.append(ws)
        subs.readers.append(asyncio.create_task(reader(ws)))
        token = tokens.sign(claims(k.tenant, k.kitchen), server.secret)
        payload = {
            "config": {
                "broadcast": {"self": False},
                "postgres_changes": [
                    {
                        "event": "*",
                        "schema": "public",
                        "table": "tasks",
                        "filter": f"kitchen_id=eq.{k.kitchen}",
                    }
                ],
            },
            "access_token": token,
        }
        await ws.send_str(frame(f"realtime:board-{i}", "phx_join", payload, "1"))
    await asyncio.wait_for(subs.ready.wait(), 60)
    return subs


async def write_changes(server: Server, k: Kitchen, rate: int, seconds: float) -> int:
    """Update the probe task at `rate`/s; notes carry the writer's clock."""
    n = max(1, int(rate * seconds))
    async with await psycopg.AsyncConnection.connect(server.db_url, autocommit=True) as conn:
        start = time.monotonic()
        for i in range(n):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await conn.execute(
                "update tasks set notes = %s where id = %s", (repr(time.time()), k.task)
            )
    return n


async def measure(
    server: Server, k: Kitchen, subs: Subscribers, size: Sizes, settle: float = 10.0
) -> dict[str, Any]:
    subs.latencies.clear()
    n = await write_changes(server, k, size.rate, size.seconds)
    expected = n * len(subs.sockets)
    await until(lambda: len(subs.latencies) >= expected, settle)
    lat = list(subs.latencies)
    return {
        "received": len(lat),
        "expected": expected,
        "p50": pct(lat, 50),
        "p99": pct(lat, 99),
        "max": max(lat) if lat else float("nan"),
    }


# --- flood ------------------------------------------------------------------------------


@dataclass
class Attacker:
    ws: aiohttp.ClientWebSocketResponse
    replies: dict[str, int] = field(default_factory=dict)
    reasons: set[str] = field(default_factory=set)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            f = json.loads(msg.data)
            if f.get("event") == "phx_reply":
                st = f["payload"]["status"]
                self.replies[st] = self.replies.get(st, 0) + 1
                if st == "error":
                    self.reasons.add(str(f["payload"]["response"].get("reason"))[:80])
            elif f.get("event") == "system" and f["payload"].get("status") == "error":
                self.reasons.add(str(f["payload"].get("message"))[:80])

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)


async def attack_bindings(
    server: Server,
    session: aiohttp.ClientSession,
    channels: int,
    bindings: int,
    tag: str,
    *,
    compact: bool = False,
) -> Attacker:
    """One anon socket joining `channels` channels of `bindings` distinct bindings each
    (`compact`: the shortest distinct binding, so 34,000 fit in a 1 MiB frame)."""
    ws = await session.ws_connect(
        server.ws_url, params={"apikey": server.anon, "vsn": "1.0.0"}, max_msg_size=0
    )
    att = Attacker(ws)
    att.reader = asyncio.create_task(att.read())
    for c in range(channels):
        pcs: list[dict[str, Any]] = [
            {"table": "tasks", "n": i}
            if compact
            else {
                "event": "*",
                "schema": "public",
                "table": "tasks",
                "filter": f"title=eq.{tag}{c}-{i}",
            }
            for i in range(bindings)
        ]
        await ws.send_str(
            frame(
                f"realtime:flood-{tag}-{c}",
                "phx_join",
                {"config": {"postgres_changes": pcs}},
                str(c),
            )
        )
    # Wait until every join got its reply (or the socket ended).
    await until(lambda: ws.closed or sum(att.replies.values()) >= channels, 120)
    return att


async def case_flood(server: Server, size: Sizes) -> list[str]:
    k = seed(server)
    out = []
    async with aiohttp.ClientSession() as session:
        subs = await subscribe(server, k, size.subscribers, session)
        try:
            quiet = await measure(server, k, subs, size)
            t0 = time.monotonic()
            att = await attack_bindings(
                server, session, size.flood_channels, size.flood_bindings, "a", compact=True
            )
            joined = time.monotonic() - t0
            flood = await measure(server, k, subs, size, settle=30)
            await att.close()
            t0 = time.monotonic()
            maxed = [
                await attack_bindings(server, session, 100, 100, f"m{s}-")
                for s in range(size.max_sockets)
            ]
            joined_max = time.monotonic() - t0
            at_max = await measure(server, k, subs, size, settle=30)
            for a in maxed:
                await a.close()
        finally:
            await subs.close()
    out.append(
        f"subscribers: {size.subscribers} displays (own claims, filter kitchen_id=eq), "
        f"{size.rate} changes/s for {size.seconds:g} s"
    )
    out.append(f"{'case':<44} {'recv/exp':>11} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")

    def row(name: str, r: dict[str, Any]) -> str:
        return (
            f"{name:<44} {r['received']:>5}/{r['expected']:<5} {r['p50']:>8.1f} "
            f"{r['p99']:>8.1f} {r['max']:>8.1f}"
        )

    out.append(row("quiet", quiet))
    out.append(row(f"flood {size.flood_channels} ch × {size.flood_bindings} bindings", flood))
    out.append(row(f"{size.max_sockets} socket(s) × 100 ch × 100 bindings", at_max))
    out.append(
        f"flood joins: replies {att.replies} in {joined:.2f} s; reasons {sorted(att.reasons)}"
    )
    out.append(
        f"max joins: replies {[a.replies for a in maxed]} in {joined_max:.2f} s; "
        f"reasons {sorted(set().union(*(a.reasons for a in maxed)))}"
    )
    if quiet["p99"] == quiet["p99"] and flood["p99"] == flood["p99"]:
        out.append(
            f"p99 flood/quiet = {flood['p99'] / quiet['p99']:.2f}×, "
            f"max-allowed/quiet = {at_max['p99'] / quiet['p99']:.2f}× (goal ≤ 2×)"
        )
    return out


# --- teardown ---------------------------------------------------------------------------


async def case_teardown(server: Server, size: Sizes) -> list[str]:
    """Sockets holding `teardown_channels` channels (one binding each) close at once;
    a probe socket sends heartbeats every 5 ms: its longest round trip is the stall."""
    total = size.teardown_channels
    per_socket_tries = [total, 100]
    out = []
    async with aiohttp.ClientSession() as session:
        for per in per_socket_tries:
            n_sockets = -(-total // per)
            atts = []
            for s in range(n_sockets):
                ws = await session.ws_connect(
                    server.ws_url, params={"apikey": server.anon, "vsn": "1.0.0"}, max_msg_size=0
                )
                att = Attacker(ws)
                att.reader = asyncio.create_task(att.read())
                atts.append(att)
                for c in range(min(per, total - s * per)):
                    pcs = [{"event": "*", "schema": "public", "table": "tasks"}]
                    await ws.send_str(
                        frame(
                            f"realtime:t{s}-{c}",
                            "phx_join",
                            {"config": {"postgres_changes": pcs}},
                            str(c),
                        )
                    )
            await until(
                lambda atts=atts, per=per: all(  # type: ignore[misc]
                    sum(a.replies.values()) >= min(per, total - i * per) for i, a in enumerate(atts)
                ),
                120,
            )
            accepted = sum(a.replies.get("ok", 0) for a in atts)
            probe = await session.ws_connect(
                server.ws_url, params={"apikey": server.anon, "vsn": "1.0.0"}
            )
            rtts: list[float] = []
            stop = asyncio.Event()

            async def pinger(
                ws: aiohttp.ClientWebSocketResponse = probe,
                stop: asyncio.Event = stop,
                rtts: list[float] = rtts,
            ) -> None:
                ref = 0
                while not stop.is_set():
                    ref += 1
                    t = time.monotonic()
                    await ws.send_str(frame("phoenix", "heartbeat", {}, str(ref)))
                    while True:
                        m = await ws.receive(timeout=30)
                        if m.type != aiohttp.WSMsgType.TEXT:
                            return
                        if json.loads(m.data).get("ref") == str(ref):
                            break
                    rtts.append((time.monotonic() - t) * 1000)
                    await asyncio.sleep(0.005)

            ping = asyncio.create_task(pinger())
            await asyncio.sleep(0.3)
            base = max(rtts) if rtts else float("nan")
            rtts.clear()
            t0 = time.monotonic()
            await asyncio.gather(*(a.ws.close() for a in atts))
            # Until the server's registries are empty again: a fresh join answers fast.
            await asyncio.sleep(max(0.5, 2 * (time.monotonic() - t0)))
            stop.set()
            await asyncio.gather(ping, return_exceptions=True)
            await probe.close()
            for a in atts:
                await a.close()
            out.append(
                f"{n_sockets} socket(s) × {per} channels: {accepted} channels accepted; "
                f"probe heartbeat max {max(rtts) if rtts else float('nan'):.1f} ms during "
                f"teardown (quiet max {base:.1f} ms)"
            )
    return out


# --- slow readers -----------------------------------------------------------------------


class DeafSocket:
    """A WebSocket client that joins a topic and then never reads (tiny receive buffer)."""

    def __init__(self, server: Server, topic: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        port = int(server.url.rsplit(":", 1)[1])
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        path = f"/realtime/v1/websocket?apikey={server.anon}&vsn=1.0.0"
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("upgrade refused")
            buf += chunk
        assert b" 101 " in buf.split(b"\r\n", 1)[0], buf
        self.send(frame(topic, "phx_join", {"config": {"broadcast": {"self": False}}}, "1"))

    def send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def closed_by_server(self) -> bool:
        """Drain what arrived; True once the server has closed the connection."""
        self.sock.setblocking(False)
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    return True
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self.sock.setblocking(True)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class RssSampler:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.peak = 0.0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.rss_mb())
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


async def slow_round(
    server: Server, size: Sizes, k: Kitchen, messages: int, payload_bytes: int, label: str
) -> list[str]:
    topic = f"realtime:slow-{label}"
    deaf = [DeafSocket(server, topic) for _ in range(size.slow_readers)]
    out = []
    async with aiohttp.ClientSession() as session:
        subs = await subscribe(server, k, 1, session)
        # A healthy reader on the broadcast topic.
        healthy = await session.ws_connect(
            server.ws_url, params={"apikey": server.anon, "vsn": "1.0.0"}, max_msg_size=0
        )
        got = 0

        async def read_healthy() -> None:
            nonlocal got
            async for m in healthy:
                if m.type != aiohttp.WSMsgType.TEXT:
                    break
                if '"event":"broadcast"' in m.data[:200]:
                    got += 1

        hr = asyncio.create_task(read_healthy())
        await healthy.send_str(frame(topic, "phx_join", {"config": {}}, "1"))
        await asyncio.sleep(0.3)
        rss0 = server.rss_mb()
        blob = "x" * payload_bytes
        body = json.dumps(
            {
                "messages": [
                    {"topic": topic[len("realtime:") :], "event": "e", "payload": {"blob": blob}}
                    for _ in range(messages)
                ]
            }
        ).encode()
        statuses: dict[int, int] = {}
        with RssSampler(server) as rss:
            t0 = time.monotonic()
            async with httpx.AsyncClient(timeout=60) as http:
                for _ in range(size.slow_posts):
                    try:
                        r = await http.post(
                            f"{server.url}/realtime/v1/api/broadcast",
                            content=body,
                            headers={
                                "apikey": server.anon,
                                "Authorization": f"Bearer {server.anon}",
                                "Content-Type": "application/json",
                            },
                        )
                        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                    except httpx.HTTPError as exc:
                        statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1  # type: ignore[index]
            sent_s = time.monotonic() - t0
            changes = await measure(
                server, k, subs, Sizes(seconds=min(1.0, size.seconds), rate=10), settle=10
            )
            expected = statuses.get(202, 0) * messages
            await until(lambda: got >= expected, 20)
            await asyncio.sleep(min(0.5, size.seconds))
        closed = sum(d.closed_by_server() for d in deaf)
        rss_after = server.rss_mb()
        for d in deaf:
            d.close()
        await healthy.close()
        hr.cancel()
        await asyncio.gather(hr, return_exceptions=True)
        await subs.close()
    out.append(
        f"{label}: {size.slow_posts} POSTs of {messages} × {payload_bytes / 2**20:.2f} MiB "
        f"({len(body) / 2**20:.2f} MiB body) in {sent_s:.1f} s → {statuses}"
    )
    out.append(
        f"  server RSS {rss0:.0f} MB before, peak {rss.peak:.0f} MB, {rss_after:.0f} MB after; "
        f"deaf sockets closed by the server: {closed}/{len(deaf)}"
    )
    out.append(
        f"  healthy reader got {got}/{expected} broadcasts; postgres_changes subscriber "
        f"{changes['received']}/{changes['expected']}, p99 {changes['p99']:.1f} ms"
    )
    return out


async def case_slow(server: Server, size: Sizes) -> list[str]:
    k = seed(server)
    out = await slow_round(server, size, k, 1, int(size.slow_mb * 2**20), "big")
    out += await slow_round(server, size, k, 4, 240 * 1024, "within-limits")
    log = server.log()
    over = log.count("over its budget") + log.count("too slow")
    out.append(f"server log lines about slow clients: {over}")
    return out


# --- p_device ---------------------------------------------------------------------------


def admin_headers(server: Server) -> dict[str, str]:
    return {"apikey": server.service, "Authorization": f"Bearer {server.service}"}


def make_display(server: Server, k: Kitchen, password: str) -> str:
    email = f"abuse-{uuid.uuid4().hex[:8]}@bench.local"
    r = httpx.post(
        f"{server.url}/auth/v1/admin/users",
        headers=admin_headers(server),
        json={
            "email": email,
            "password": password,
            "email_confirm": True,
            "app_metadata": {
                "tenant_id": k.tenant,
                "kitchen_id": k.kitchen,
                "device_kind": "display",
            },
        },
        timeout=30,
    )
    r.raise_for_status()
    return email


def sign_in(server: Server, email: str, password: str) -> str:
    r = httpx.post(
        f"{server.url}/auth/v1/token",
        params={"grant_type": "password"},
        headers={"apikey": server.anon},
        json={"email": email, "password": password},
        timeout=30,
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def case_device(server: Server, size: Sizes) -> list[str]:
    k = seed(server)
    password = uuid.uuid4().hex
    email = make_display(server, k, password)
    token = sign_in(server, email, password)
    h = {"apikey": server.anon, "Authorization": f"Bearer {token}"}
    with psycopg.connect(server.db_url, autocommit=True) as c:
        ids = [str(uuid.uuid4()) for _ in range(size.device_claims)]
        for t in ids:
            c.execute(
                "insert into tasks (id, tenant_id, kitchen_id, title) values (%s, %s, %s, 'd')",
                (t, k.tenant, k.kitchen),
            )

    def fetch_ms() -> tuple[float, int]:
        best = float("inf")
        n = 0
        for _ in range(5):
            t0 = time.monotonic()
            r = httpx.get(
                f"{server.url}/rest/v1/tasks",
                params={"kitchen_id": f"eq.{k.kitchen}", "select": "*"},
                headers=h,
                timeout=60,
            )
            best = min(best, (time.monotonic() - t0) * 1000)
            n = len(r.content)
        return best, n

    before, size0 = fetch_ms()
    device = "d" * int(size.device_mb * 2**20)
    statuses: dict[int, int] = {}
    stored = []
    for t in ids:
        r = httpx.post(
            f"{server.url}/rest/v1/rpc/claim_task",
            headers=h,
            json={
                "p_task_id": t,
                "p_staff_id": k.staff,
                "p_op_id": str(uuid.uuid4()),
                "p_device": device,
            },
            timeout=120,
        )
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        with contextlib.suppress(ValueError, KeyError, TypeError):
            stored.append(len(r.json()["task"]["claimed_device"] or ""))
    after, size1 = fetch_ms()
    return [
        f"{size.device_claims} claims with p_device of {size.device_mb:g} MB → {statuses}; "
        f"claimed_device stored: {sorted(set(stored))} chars",
        f"board fetch: {before:.1f} ms ({size0} bytes) before, {after:.1f} ms ({size1} bytes) "
        f"after = {after / before:.1f}×",
    ]


# --- sign-in brute force ------------------------------------------------------------------


def case_signin(server: Server, size: Sizes) -> list[str]:
    k = seed(server)
    email = make_display(server, k, uuid.uuid4().hex)
    statuses: dict[int, int] = {}
    first_429 = None
    t0 = time.monotonic()
    with httpx.Client(timeout=30) as http:
        for i in range(size.signin_attempts):
            delay = t0 + i / size.signin_rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            r = http.post(
                f"{server.url}/auth/v1/token",
                params={"grant_type": "password"},
                headers={"apikey": server.anon, "X-Supabase-Api-Version": "2024-01-01"},
                json={"email": email, "password": f"wrong-{i}"},
            )
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 429 and first_429 is None:
                first_429 = (i, r.json(), r.headers.get("Retry-After"))
    took = time.monotonic() - t0
    return [
        f"{size.signin_attempts} wrong passwords at {size.signin_rate:g}/s in {took:.1f} s → "
        f"{statuses}",
        f"first 429: {first_429}",
    ]


# --- main -------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--rate", type=int, default=None, help="changes/s written while measuring")
    ap.add_argument("--db-url", default=None, help="use this Postgres instead of the embedded one")
    ap.add_argument("--smoke", action="store_true", help="every case small, a few seconds")
    ap.add_argument("--serve-arg", action="append", default=[], help="extra `serve` argument")
    ap.add_argument("--profile-server", metavar="FILE", help="cProfile the server into FILE")
    args = ap.parse_args()
    size = SMOKE if args.smoke else Sizes()
    if args.seconds is not None:
        size.seconds = args.seconds
    if args.rate is not None:
        size.rate = args.rate
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        ap.error(f"unknown cases: {', '.join(sorted(unknown))}")

    tmp = Path(tempfile.mkdtemp(prefix="caterking-abuse-"))
    server = Server(tmp / "stack", free_port(), args.db_url, args.serve_arg, args.profile_server)
    results: dict[str, list[str]] = {}
    try:
        for case in cases:
            t0 = time.monotonic()
            if case in ("device", "signin"):
                lines = {"device": case_device, "signin": case_signin}[case](server, size)
            else:
                fn = {"flood": case_flood, "teardown": case_teardown, "slow": case_slow}[case]
                lines = asyncio.run(fn(server, size))
            lines.append(f"({time.monotonic() - t0:.1f} s)")
            results[case] = lines
            print(f"\n== {case}", flush=True)
            for line in lines:
                print(line, flush=True)
    finally:
        server.stop()
        log = server.log_path.read_text(errors="replace")
        shutil.rmtree(tmp, ignore_errors=True)
    tracebacks = log.count("Traceback (most recent call last)")
    print(f"\nmachine: {machine()}; tracebacks in the server log: {tracebacks}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
