"""Hostile Realtime clients (issue 10): one socket must not be able to stall or exhaust
the server for everybody else, and bad input gets a clear error, never a traceback.
Load figures are measured by bench/abuse.py; these tests only pin the behaviour."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest

from caterking_server.realtime.broadcast import Hub
from caterking_server.realtime.serializers import Message

from .conftest import Stack, start_stack, stop_stack, wait_for
from .wsclient import RawClient


def is_reply(ref: str) -> Any:
    return lambda f: isinstance(f, dict) and f.get("event") == "phx_reply" and f.get("ref") == ref


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


@pytest.fixture
async def short_heartbeat(db_url: str) -> AsyncIterator[Stack]:
    st, runner = await start_stack(db_url, heartbeat_timeout_s=1.0)
    try:
        yield st
    finally:
        await stop_stack(st, runner)


@pytest.fixture
async def small_budget(db_url: str) -> AsyncIterator[Stack]:
    st, runner = await start_stack(db_url, max_queued_bytes=256 * 1024)
    try:
        yield st
    finally:
        await stop_stack(st, runner)


async def test_channels_per_socket_are_limited(rts: Stack) -> None:
    stack = rts
    c = await RawClient.connect(stack.ws_url, stack.anon)
    try:
        refs = [await c.join(f"realtime:room-{n}") for n in range(100)]
        for ref in refs:
            assert (await c.recv_until(is_reply(ref)))["payload"]["status"] == "ok"
        ref = await c.join("realtime:room-100")
        rep = await c.recv_until(is_reply(ref))
        assert rep["payload"] == {
            "status": "error",
            "response": {"reason": "ChannelRateLimitReached: Too many channels"},
        }
        # Joining a topic again replaces its channel: not a new one.
        ref = await c.join("realtime:room-7")
        assert (await c.recv_until(is_reply(ref)))["payload"]["status"] == "ok"
        assert stack.service.stats()["channels"] == 100
        ref = await c.push("phoenix", "heartbeat", {})
        await c.recv_until(is_reply(ref))  # the socket is fine
    finally:
        await c.close()


async def test_bindings_per_channel_are_limited(
    rts: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack = rts
    c = await RawClient.connect(stack.ws_url, stack.anon)
    try:
        flood = [{"table": "tasks", "n": n} for n in range(101)]
        ref = await c.join("realtime:flood", {"postgres_changes": flood})
        rep = await c.recv_until(is_reply(ref))
        assert rep["payload"]["status"] == "error"
        reason = rep["payload"]["response"]["reason"]
        assert "too many postgres_changes bindings" in reason and "101" in reason, reason
        assert stack.service.stats()["subscriptions"] == 0
        assert stack.service.stats()["channels"] == 0

        ref = await c.join("realtime:flood", {"postgres_changes": flood[:100]})
        assert (await c.recv_until(is_reply(ref)))["payload"]["status"] == "ok"
        await c.recv_until(lambda f: f.get("event") == "system")
        assert stack.service.stats()["subscriptions"] == 100
    finally:
        await c.close()
    # Refusals are logged once per socket, not once per attempt.
    assert sum("refused" in r.getMessage() for r in caplog.records) == 1


async def test_malformed_bindings_and_topics_get_errors_not_tracebacks(
    rts: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack = rts
    k = stack.seed()
    c = await RawClient.connect(stack.ws_url, stack.anon)
    try:
        for bindings in (
            [1],
            ["tasks"],
            [None],
            [[{"table": "tasks"}]],
            [{"table": {"x": 1}}],  # found by bench/fuzz.py: unhashable table name
            [{"schema": ["public"], "table": "tasks"}],
            [{"table": "tasks", "filter": {"id": 1}}],
            [{"table": "tasks", "event": ["INSERT"]}],
        ):
            ref = await c.join("realtime:bad", {"postgres_changes": bindings})
            rep = await c.recv_until(is_reply(ref))
            assert rep["payload"]["status"] == "error", bindings
            assert "Unable to subscribe" in rep["payload"]["response"]["reason"]
        # A private topic shaped like a kitchen's but not a UUID: Unauthorized.
        token = stack.device_token(k)
        for topic in ("kitchen:" + "-" * 36, "kitchen:" + "g" * 36, "kitchen:" + "-" * 36 + ":x"):
            ref = await c.join(f"realtime:{topic}", {"private": True}, token)
            rep = await c.recv_until(is_reply(ref))
            assert rep["payload"]["status"] == "error", topic
            assert rep["payload"]["response"]["reason"].startswith("Unauthorized"), rep
        ref = await c.push("phoenix", "heartbeat", {})
        await c.recv_until(is_reply(ref))
    finally:
        await c.close()
    no_tracebacks(caplog)


async def test_in_filters_take_at_most_100_values(rts: Stack) -> None:
    stack = rts
    c = await RawClient.connect(stack.ws_url, stack.service_key)
    try:
        for n, status in ((100, "ok"), (101, "error")):
            values = ",".join(f"v{i}" for i in range(n))
            binding = {"event": "*", "table": "tasks", "filter": f"title=in.({values})"}
            ref = await c.join(f"realtime:in-{n}", {"postgres_changes": [binding]})
            assert (await c.recv_until(is_reply(ref)))["payload"]["status"] == "ok"
            system = await c.recv_until(lambda f: f.get("event") == "system")
            assert system["payload"]["status"] == status, system
            if status == "error":
                assert system["payload"]["message"].startswith("Error parsing `filter` params")
    finally:
        await c.close()


async def test_deeply_nested_frame_is_refused_and_the_socket_lives(
    rts: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack = rts
    for vsn in ("1.0.0", "2.0.0"):
        c = await RawClient.connect(stack.ws_url, stack.anon, vsn)
        try:
            await c.ws.send_str("[" * 200_000 + "]" * 200_000)  # under 1 MiB
            await c.ws.send_str('{"a":' * 100_000 + "1" + "}" * 100_000)
            ref = await c.push("phoenix", "heartbeat", {})
            frame = await c.recv()
            got_ref = frame[1] if isinstance(frame, list) else frame["ref"]
            assert got_ref == ref
        finally:
            await c.close()
    # Deep JSON in a REST broadcast: 400, not 500.
    body = '{"messages":' + "[" * 100_000 + "]" * 100_000 + "}"
    async with httpx.AsyncClient() as http:
        r = await http.post(
            f"{stack.http_url}/realtime/v1/api/broadcast",
            content=body,
            headers={"apikey": stack.anon, "Content-Type": "application/json"},
        )
    assert r.status_code == 400, r.text
    no_tracebacks(caplog)


async def test_presence_payloads_are_bounded(rts: Stack) -> None:
    stack = rts
    c = await RawClient.connect(stack.ws_url, stack.anon)
    try:
        join = await c.join("realtime:p", {"presence": {"enabled": True}})
        await c.recv_until(is_reply(join))
        deep: Any = {}
        for _ in range(40):
            deep = {"x": deep}
        for payload in (deep, {"blob": "x" * 20_000}):
            ref = await c.push(
                "realtime:p", "presence", {"event": "track", "payload": payload}, join_ref=join
            )
            assert (await c.recv_until(is_reply(ref)))["payload"]["status"] == "error"
        ref = await c.push(
            "realtime:p", "presence", {"event": "track", "payload": {"ok": 1}}, join_ref=join
        )
        assert (await c.recv_until(is_reply(ref)))["payload"]["status"] == "ok"
    finally:
        await c.close()


async def test_no_phoenix_heartbeat_closes_the_socket_even_if_it_answers_pings(
    short_heartbeat: Stack,
) -> None:
    stack = short_heartbeat
    session = aiohttp.ClientSession()
    try:
        # aiohttp answers the server's WebSocket pings by itself (autoping).
        silent = await session.ws_connect(
            f"{stack.ws_url}/websocket", params={"apikey": stack.anon, "vsn": "1.0.0"}
        )
        alive = await RawClient.connect(stack.ws_url, stack.anon)
        beats = 0

        async def beat() -> None:
            nonlocal beats
            while True:
                ref = await alive.push("phoenix", "heartbeat", {})
                await alive.recv_until(is_reply(ref))
                beats += 1
                await asyncio.sleep(0.1)

        beating = asyncio.create_task(beat())
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            msg = await silent.receive(timeout=10)  # the server's close
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
            assert loop.time() - start >= 0.9
            # A client that does send heartbeats stays, over several timeouts.
            await wait_for(lambda: beats >= 30, 15, what="heartbeats over several timeouts")
            assert not beating.done() and not alive.ws.closed
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
            await alive.close()
            await silent.close()
    finally:
        await session.close()


class DeafSocket:
    """A WebSocket client that joins a topic and then never reads (blocking socket)."""

    def __init__(self, port: int, apikey: str, topic: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /realtime/v1/websocket?apikey={apikey}&vsn=1.0.0 HTTP/1.1\r\n"
                f"Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += self.sock.recv(1)
        assert b" 101 " in buf
        data = json.dumps(
            {"topic": topic, "event": "phx_join", "payload": {}, "ref": "1", "join_ref": "1"}
        ).encode()
        mask = os.urandom(4)
        head = bytes([0x81, 0x80 | 126]) + len(data).to_bytes(2, "big")
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def close(self) -> None:
        self.sock.close()


async def test_a_client_that_does_not_read_is_dropped_and_others_get_everything(
    small_budget: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack = small_budget
    # Blocking sockets: made in a thread (the server runs on this test's loop).
    deaf = [
        await asyncio.to_thread(DeafSocket, stack.port, stack.anon, "realtime:news")
        for _ in range(2)
    ]
    reader = await RawClient.connect(stack.ws_url, stack.anon)
    try:
        ref = await reader.join("realtime:news")
        await reader.recv_until(is_reply(ref))
        await wait_for(lambda: stack.service.stats()["channels"] == 3, what="three joined")
        blob = "x" * (200 * 1024)
        got = 0
        sent = 0
        async with httpx.AsyncClient() as http:
            while stack.service.stats()["connections"] > 1:
                r = await http.post(
                    f"{stack.http_url}/realtime/v1/api/broadcast",
                    json={"messages": [{"topic": "news", "event": "e", "payload": {"b": blob}}]},
                    headers={"apikey": stack.anon},
                )
                assert r.status_code == 202
                sent += 1
                assert sent < 500, "the deaf sockets were never dropped"
                while got < sent:
                    frame = await reader.recv()
                    if isinstance(frame, dict) and frame.get("event") == "broadcast":
                        got += 1
        assert got == sent
    finally:
        await reader.close()
        for d in deaf:
            d.close()
    drops = [r.getMessage() for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(drops) == 2 and all("over its budget" in m for m in drops), drops


async def test_broadcast_sizes_are_capped(rts: Stack) -> None:
    stack = rts
    url = f"{stack.http_url}/realtime/v1/api/broadcast"
    h = {"apikey": stack.anon}

    def one(size: int) -> dict[str, Any]:
        return {"messages": [{"topic": "t", "event": "e", "payload": {"b": "x" * size}}]}

    async with httpx.AsyncClient() as http:
        big_body = json.dumps(one(2 << 20))
        r = await http.post(
            url, content=big_body, headers={**h, "Content-Type": "application/json"}
        )
        assert r.status_code == 413
        assert r.json()["error"] == "Payload too large"
        r = await http.post(url, json=one(300_000), headers=h)
        assert r.status_code == 413 and "payload" in r.json()["message"]
        r = await http.post(
            f"{stack.http_url}/realtime/v1/api/broadcast/t/events/e",
            json={"b": "x" * 300_000},
            headers=h,
        )
        assert r.status_code == 413
        r = await http.post(url, json=one(200_000), headers=h)
        assert r.status_code == 202
    c = await RawClient.connect(stack.ws_url, stack.anon)
    try:
        join = await c.join("realtime:t", {"broadcast": {"ack": True}})
        await c.recv_until(is_reply(join))
        payload = {"type": "broadcast", "event": "e", "payload": {"b": "x" * 300_000}}
        ref = await c.push("realtime:t", "broadcast", payload, join_ref=join)
        rep = await c.recv_until(is_reply(ref))
        assert rep["payload"]["status"] == "error"
        assert rep["payload"]["response"]["reason"].startswith("PayloadTooLarge")
    finally:
        await c.close()


class _Conn:
    def __init__(self, vsn: str) -> None:
        self.vsn = vsn
        self.frames: list[bytes] = []

    def send_frame(self, frame: bytes) -> None:
        self.frames.append(frame)


class _Member:
    def __init__(self, conn: _Conn, topic: str) -> None:
        self.conn = conn
        self.topic = topic
        self.key = (False, topic)
        self.alive = True
        self.broadcast_self = False

    @property
    def vsn(self) -> str:
        return self.conn.vsn

    def send_frame(self, frame: bytes) -> None:
        self.conn.send_frame(frame)


def test_one_frame_is_shared_by_every_subscriber() -> None:
    hub = Hub()
    members = [_Member(_Conn("1.0.0" if n % 2 else "2.0.0"), "realtime:t") for n in range(6)]
    for m in members:
        hub.add(m)  # type: ignore[arg-type]
    msg = Message("realtime:t", "broadcast", {"type": "broadcast", "event": "e", "payload": {}})
    assert hub.broadcast((False, "realtime:t"), msg, None) == 6
    v1 = [m.conn.frames[0] for m in members if m.conn.vsn == "1.0.0"]
    v2 = [m.conn.frames[0] for m in members if m.conn.vsn == "2.0.0"]
    assert all(f is v1[0] for f in v1) and all(f is v2[0] for f in v2)
    hub.fan_out((False, "realtime:t"), "presence_diff", '{"joins":{},"leaves":{}}')
    v1 = [m.conn.frames[1] for m in members if m.conn.vsn == "1.0.0"]
    assert all(f is v1[0] for f in v1)


async def test_a_client_that_does_not_read_cannot_hold_up_the_shutdown(db_url: str) -> None:
    st, runner = await start_stack(db_url)
    deaf = await asyncio.to_thread(DeafSocket, st.port, st.anon, "realtime:news")
    try:
        await wait_for(lambda: st.service.stats()["channels"] == 1, what="joined")
        blob = "x" * (200 * 1024)
        async with httpx.AsyncClient() as http:
            for _ in range(30):  # ~6 MB: more than the socket buffers, under the budget
                r = await http.post(
                    f"{st.http_url}/realtime/v1/api/broadcast",
                    json={"messages": [{"topic": "news", "event": "e", "payload": {"b": blob}}]},
                    headers={"apikey": st.anon},
                )
                assert r.status_code == 202
        await wait_for(lambda: any(c.queue for c in st.service.connections), what="a backlog")
        await asyncio.wait_for(stop_stack(st, runner), 15)
    finally:
        deaf.close()
