"""Wire-level behaviour with a hand-written client: heartbeats, errors, malformed input,
v2 serializer, oversize frames, refused upgrades, dead clients."""

from __future__ import annotations

import json
import struct
import time

import aiohttp

from caterking_server import tokens
from tests.pg import add_task, connect

from .conftest import Stack, start_stack, stop_stack, wait_for
from .wsclient import RawClient


def is_reply(ref: str):  # type: ignore[no-untyped-def]
    return lambda f: isinstance(f, dict) and f.get("event") == "phx_reply" and f.get("ref") == ref


async def test_heartbeat_reply_and_unmatched_topic(rts: Stack) -> None:
    stack = rts
    c = await RawClient.connect(stack.ws_url, stack.anon)
    try:
        ref = await c.push("phoenix", "heartbeat", {})
        assert await c.recv() == {
            "topic": "phoenix",
            "event": "phx_reply",
            "payload": {"status": "ok", "response": {}},
            "ref": ref,
        }
        ref = await c.push(
            "realtime:nojoin", "broadcast", {"type": "broadcast", "event": "x", "payload": {}}
        )
        frame = await c.recv()
        assert frame["payload"] == {"status": "error", "response": {"reason": "unmatched topic"}}
        assert frame["ref"] == ref
        ref = await c.push("elsewhere", "phx_join", {})
        assert (await c.recv())["payload"]["response"] == {"reason": "unmatched topic"}
    finally:
        await c.close()


async def test_join_reply_echoes_bindings_leave_and_duplicate(rts: Stack) -> None:
    stack = rts
    c = await RawClient.connect(stack.ws_url, stack.anon)
    try:
        bindings = [
            {"event": "INSERT", "schema": "public", "table": "tasks", "filter": "priority=eq.2"},
            {"event": "*", "schema": "public", "table": "staff"},
            {"event": "INSERT", "schema": "public", "table": "tasks", "filter": "priority=eq.2"},
        ]
        ref = await c.join("realtime:k", {"postgres_changes": bindings})
        rep = await c.recv_until(is_reply(ref))
        got = rep["payload"]["response"]["postgres_changes"]
        assert [{k: v for k, v in b.items() if k != "id"} for b in got] == bindings
        assert all(isinstance(b["id"], int) and b["id"] >= 1 for b in got)
        assert got[0]["id"] == got[2]["id"] != got[1]["id"]
        sysmsg = await c.recv_until(lambda f: f.get("event") == "system")
        assert sysmsg["payload"] == {
            "channel": "k",
            "extension": "postgres_changes",
            "message": "Subscribed to PostgreSQL",
            "status": "ok",
        }
        assert sysmsg["ref"] is None
        # Duplicate join: ok to the new join first, then phx_close with the old join ref.
        ref2 = await c.join("realtime:k", {})
        assert (await c.recv_until(lambda f: f.get("event") in ("phx_reply", "phx_close")))[
            "ref"
        ] == ref2
        close = await c.recv_until(lambda f: f.get("event") == "phx_close")
        assert close["ref"] == ref
        assert stack.service.stats()["subscriptions"] == 0
        # Unknown event on a joined topic → error reply.
        bad = await c.push("realtime:k", "frobnicate", {}, join_ref=ref2)
        frame = await c.recv_until(is_reply(bad))
        assert frame["payload"]["status"] == "error"
        # Leave: ok reply, then phx_close with the join ref.
        lref = await c.push("realtime:k", "phx_leave", {}, join_ref=ref2)
        assert (await c.recv_until(is_reply(lref)))["payload"]["status"] == "ok"
        close = await c.recv_until(lambda f: f.get("event") == "phx_close")
        assert close["ref"] == ref2
        assert stack.service.stats()["channels"] == 0
        # Topic name required
        eref = await c.join("realtime:")
        rep = await c.recv_until(is_reply(eref))
        assert rep["payload"]["response"]["reason"].startswith("TopicNameRequired")
    finally:
        await c.close()


async def test_malformed_frames_are_ignored(rts: Stack) -> None:
    stack = rts
    c = await RawClient.connect(stack.ws_url, stack.anon)
    try:
        for junk in ("not json", "[1,2,3]", '{"topic": 5}', "null", '{"event":"x"}', "{}"):
            await c.ws.send_str(junk)
        await c.ws.send_bytes(b"\x09\x00garbage")
        await c.ws.send_bytes(b"")
        ref = await c.join("realtime:k", None)
        # Wrong-shaped join payload pieces default sensibly.
        await c.ws.send_str(
            json.dumps({"topic": "realtime:z", "event": "phx_join", "payload": [1], "ref": "77"})
        )
        assert (await c.recv_until(is_reply(ref)))["payload"]["status"] == "ok"
        assert (await c.recv_until(is_reply("77")))["payload"]["status"] == "ok"
        hb = await c.push("phoenix", "heartbeat", {})
        assert (await c.recv_until(is_reply(hb)))["payload"]["status"] == "ok"
        # Broadcast with a non-object payload → error reply; presence track non-object too.
        b = await c.push("realtime:k", "broadcast", [1, 2], join_ref=ref)
        assert (await c.recv_until(is_reply(b)))["payload"]["status"] == "error"
        p = await c.push("realtime:k", "presence", {"event": "track", "payload": 5}, join_ref=ref)
        rep = await c.recv_until(is_reply(p))
        assert rep["payload"]["response"]["reason"] == "Presence track payload must be a map"
    finally:
        await c.close()


async def test_invalid_tokens_at_connect_and_join(rts: Stack) -> None:
    stack = rts
    async with aiohttp.ClientSession() as s:
        url = f"{stack.http_url}/realtime/v1/websocket"
        async with s.get(url, params={"vsn": "1.0.0"}) as r:
            assert r.status == 401 and await r.json() == {"error": "API key is missing"}
        async with s.get(url, params={"apikey": "nope"}) as r:
            assert r.status == 401
            assert await r.json() == {"error": "The token provided is not a valid JWT"}
        expired = tokens.sign({"role": "anon", "exp": int(time.time()) - 30}, stack.secret)
        async with s.get(url, headers={"apikey": expired}) as r:
            assert r.status == 401
            assert (await r.json())["error"].startswith("Token has expired")
        noexp = tokens.sign({"role": "anon"}, stack.secret)
        async with s.get(url, params={"apikey": noexp}) as r:
            assert (await r.json()) == {"error": "Fields `role` and `exp` are required in JWT"}
    c = await RawClient.connect(stack.ws_url, stack.anon)
    try:
        bad = tokens.sign({"role": "anon", "exp": int(time.time()) + 60}, "other-secret")
        ref = await c.join("realtime:k", {}, token=bad)
        rep = await c.recv_until(is_reply(ref))
        assert rep["payload"] == {
            "status": "error",
            "response": {"reason": "JwtSignatureError: Failed to validate JWT signature"},
        }
        ref = await c.join("realtime:k", {}, token=expired)
        rep = await c.recv_until(is_reply(ref))
        assert rep["payload"]["response"]["reason"].startswith("InvalidJWTToken: Token has expired")
    finally:
        await c.close()


async def test_v2_serializer_text_and_binary_broadcast(rts: Stack) -> None:
    stack = rts
    k = stack.seed()
    a = await RawClient.connect(stack.ws_url, stack.service_key, vsn="2.0.0")
    b = await RawClient.connect(stack.ws_url, stack.anon, vsn="2.0.0")
    v1 = await RawClient.connect(stack.ws_url, stack.anon)
    try:
        hb = await a.push("phoenix", "heartbeat", {})
        assert await a.recv() == [
            None,
            hb,
            "phoenix",
            "phx_reply",
            {"status": "ok", "response": {}},
        ]
        ref = await a.join(
            "realtime:room",
            {
                "broadcast": {"self": False},
                "postgres_changes": [{"event": "*", "schema": "public", "table": "tasks"}],
            },
        )
        rep = await a.recv()
        assert rep[:4] == [ref, ref, "realtime:room", "phx_reply"] and rep[4]["status"] == "ok"
        await a.recv_until(lambda f: isinstance(f, list) and f[3] == "system")
        bref = await b.join("realtime:room", {})
        await b.recv_until(lambda f: isinstance(f, list) and f[1] == bref)
        vref = await v1.join("realtime:room", {})
        await v1.recv_until(is_reply(vref))
        # Kind 3 binary push from b, JSON-encoded payload.
        topic, event, body = b"realtime:room", b"ping", json.dumps({"n": 1}).encode()
        jr, r = bref.encode(), b"9"
        frame = (
            bytes([3, len(jr), len(r), len(topic), len(event), 0, 1])
            + jr
            + r
            + topic
            + event
            + body
        )
        await b.ws.send_bytes(frame)
        got = await a.recv_until(lambda f: isinstance(f, bytes))
        kind, tl, el, ml, enc = struct.unpack_from("5B", got)
        assert (kind, enc, ml) == (4, 1, 0)
        assert got[5 : 5 + tl] == topic and got[5 + tl : 5 + tl + el] == event
        assert json.loads(got[5 + tl + el :]) == {"n": 1}
        j = await v1.recv_until(lambda f: f.get("event") == "broadcast")
        assert j["payload"] == {"type": "broadcast", "event": "ping", "payload": {"n": 1}}
        assert j["ref"] is None
        # postgres_changes arrive as v2 text arrays.
        with connect(stack.db_url) as conn:
            tid = add_task(conn, k)
        ch = await a.recv_until(lambda f: isinstance(f, list) and f[3] == "postgres_changes")
        assert ch[0] is None and ch[1] is None
        assert ch[4]["data"]["record"]["id"] == tid and ch[4]["data"]["type"] == "INSERT"
    finally:
        for c in (a, b, v1):
            await c.close()


async def test_oversize_frame_closes_1009(db_url: str) -> None:
    st, runner = await start_stack(db_url, max_frame_bytes=4096)
    try:
        c = await RawClient.connect(st.ws_url, st.anon)
        await c.ws.send_str(
            json.dumps(
                {
                    "topic": "phoenix",
                    "event": "heartbeat",
                    "payload": {"x": "y" * 10000},
                    "ref": "1",
                }
            )
        )
        msg = await c.ws.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert c.ws.close_code == 1009
        await c.close()
        await wait_for(lambda: st.service.stats()["connections"] == 0, what="cleanup")
    finally:
        await stop_stack(st, runner)


async def test_vanished_client_is_cleaned_up(db_url: str) -> None:
    st, runner = await start_stack(db_url, heartbeat_timeout_s=1.0)
    try:
        # autoping off: the client never answers the server's pings, like a dead peer.
        c = await RawClient.connect(st.ws_url, st.anon, autoping=False)
        ref = await c.join("realtime:k", {"presence": {"key": "ghost", "enabled": True}})
        await c.push(
            "realtime:k", "presence", {"event": "track", "payload": {"a": 1}}, join_ref=ref
        )
        await wait_for(lambda: st.service.stats()["presences"] == 1, what="tracked")
        t0 = time.monotonic()
        await wait_for(
            lambda: st.service.stats()["connections"] == 0, limit=5, what="dead peer dropped"
        )
        assert time.monotonic() - t0 <= 2.5  # within two heartbeat intervals (+ margin)
        assert st.service.stats() == {
            "connections": 0,
            "channels": 0,
            "topics": 0,
            "presences": 0,
            "subscriptions": 0,
        }
        await c.session.close()
    finally:
        await stop_stack(st, runner)


async def test_private_broadcast_without_write_permission(rts: Stack) -> None:
    """Read-only private topic: relays nothing; an ack request gets an error reply."""
    stack = rts
    k = stack.seed()
    stack.sql(
        "create policy test_readonly on realtime.messages for select to authenticated "
        "using (realtime.topic() like 'readonly:%%')"
    )
    tok = stack.device_token(k)
    sender = await RawClient.connect(stack.ws_url, stack.anon)
    listener = await RawClient.connect(stack.ws_url, stack.anon)
    try:
        topic = "realtime:readonly:board"
        jl = await listener.join(topic, {"private": True}, tok)
        await listener.recv_until(is_reply(jl))
        for ack in (True, False):
            cfg = {"private": True, "broadcast": {"ack": ack, "self": True}}
            join = await sender.join(topic, cfg, tok)
            frame = await sender.recv_until(is_reply(join))
            assert frame["payload"]["status"] == "ok"
            msg = {"type": "broadcast", "event": "ping", "payload": {"n": 1}}
            ref = await sender.push(topic, "broadcast", msg, join_ref=join)
            hb = await sender.push("phoenix", "heartbeat", {})
            frames = []
            while not (frames and frames[-1].get("ref") == hb):
                frames.append(await sender.recv())
            replies = [f for f in frames if f.get("ref") == ref]
            if ack:
                assert replies == [
                    {
                        "topic": topic,
                        "event": "phx_reply",
                        "payload": {
                            "status": "error",
                            "response": {
                                "reason": "Unauthorized: You do not have permissions to "
                                "write to this Channel topic: readonly:board"
                            },
                        },
                        "ref": ref,
                    }
                ]
            else:
                assert replies == []
            assert not any(f.get("event") == "broadcast" for f in frames)
        # Nothing reached the other subscriber either.
        hb = await listener.push("phoenix", "heartbeat", {})
        frame = await listener.recv()
        assert frame["ref"] == hb
    finally:
        await sender.close()
        await listener.close()
