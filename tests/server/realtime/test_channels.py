"""Broadcast, presence, private channels and token lifecycle with realtime-py."""

from __future__ import annotations

import time
from typing import Any

from realtime import AsyncRealtimeClient

from tests.pg import add_task, connect

from .conftest import Stack, wait_for
from .helpers import plain, subscribe_changes


async def _client(stack: Stack, token: str | None = None) -> AsyncRealtimeClient:
    c = AsyncRealtimeClient(stack.ws_url, stack.anon, auto_reconnect=False)
    await c.connect()
    if token:
        await c.set_auth(token)
    return c


async def test_broadcast_self_and_ack(rts: Stack) -> None:
    stack = rts
    a, b = await _client(stack), await _client(stack)
    try:
        got_a: list[Any] = []
        got_b: list[Any] = []
        ca = a.channel("room", {"config": {"broadcast": {"self": True, "ack": True}}})
        ca.on_broadcast("*", lambda p: got_a.append(plain(p)))
        await ca.subscribe()
        cb = b.channel("room")
        cb.on_broadcast("*", lambda p: got_b.append(plain(p)))
        await cb.subscribe()
        other = b.channel("other-room")
        got_other: list[Any] = []
        other.on_broadcast("*", got_other.append)
        await other.subscribe()
        await ca.send_broadcast("ping", {"n": 1})  # ack: waits for the ok reply
        await wait_for(lambda: got_a and got_b, what="broadcast to both")
        assert got_a[0]["payload"] == {"n": 1} and got_b[0]["event"] == "ping"
        # Without self, the sender does not hear its own broadcast.
        await cb.send_broadcast("pong", {"n": 2})
        await wait_for(lambda: any(x["event"] == "pong" for x in got_a), what="pong reaches a")
        await ca.send_broadcast("ping", {"n": 3})
        await wait_for(lambda: len(got_b) >= 2, what="second broadcast")
        assert [x["payload"]["n"] for x in got_b] == [1, 3]  # b never hears its own pong
        assert got_other == []
        # HTTP broadcast (202) reaches socket subscribers.
        await cb.http_send("ping", {"n": 4})
        await wait_for(lambda: any(x["payload"]["n"] == 4 for x in got_a), what="http broadcast")
    finally:
        await a.close()
        await b.close()


async def test_presence_between_two_clients(rts: Stack) -> None:
    stack = rts
    a, b = await _client(stack), await _client(stack)
    try:
        ca = a.channel("kiosk", {"config": {"presence": {"key": "display-a"}}})
        ca.on_presence_sync(lambda: None)
        await ca.subscribe()
        await ca.track({"kind": "display"})
        cb = b.channel("kiosk", {"config": {"presence": {"key": "display-b"}}})
        leaves: list[Any] = []
        cb.on_presence_sync(lambda: None)
        cb.on_presence_leave(lambda key, cur, left: leaves.append(key))
        await cb.subscribe()
        await wait_for(lambda: "display-a" in cb.presence_state(), what="b sees a (presence_state)")
        await cb.track({"kind": "display", "n": 2})
        await wait_for(lambda: "display-b" in ca.presence_state(), what="a sees b (diff)")
        await wait_for(lambda: "display-b" in cb.presence_state(), what="b sees itself")
        meta = ca.presence_state()["display-b"][0]
        assert meta["n"] == 2 and meta["presence_ref"].startswith("F")  # the client pops phx_ref
        await a.close()  # disconnect → leave
        await wait_for(lambda: "display-a" not in cb.presence_state(), what="a left")
        assert "display-a" in leaves
    finally:
        await a.close()
        await b.close()


async def test_private_channel_own_kitchen_only(rts: Stack) -> None:
    stack = rts
    k = stack.seed()
    other = stack.seed()
    tok = stack.device_token(k)
    c = await _client(stack, tok)
    try:
        states: dict[str, list[tuple[str, str | None]]] = {}
        for name in (
            f"kitchen:{k.kitchen_id}",
            f"kitchen:{k.kitchen_id}:announce",
            f"kitchen:{other.kitchen_id}",
            "kitchen:nope",
        ):
            ch = c.channel(name, {"config": {"private": True}})
            states[name] = []
            await ch.subscribe(
                lambda s, e, name=name: states[name].append((s.value, str(e) if e else None))
            )
        assert states[f"kitchen:{k.kitchen_id}"][0][0] == "SUBSCRIBED"
        assert states[f"kitchen:{k.kitchen_id}:announce"][0][0] == "SUBSCRIBED"
        for name in (f"kitchen:{other.kitchen_id}", "kitchen:nope"):
            state, err = states[name][0]
            assert state == "CHANNEL_ERROR"
            assert (
                f"Unauthorized: You do not have permissions to read from this Channel topic: {name}"
                in (err or "")
            )
        # Anon cannot join a private channel at all.
        anon = await _client(stack)
        try:
            st: list[str] = []
            ch = anon.channel(f"kitchen:{k.kitchen_id}", {"config": {"private": True}})
            await ch.subscribe(lambda s, e: st.append(s.value))
            assert st[0] == "CHANNEL_ERROR"
        finally:
            await anon.close()
    finally:
        await c.close()


async def test_private_and_public_topics_are_distinct(rts: Stack) -> None:
    stack = rts
    k = stack.seed()
    tok = stack.device_token(k)
    a, b = await _client(stack, tok), await _client(stack, tok)
    try:
        # A sub-topic: on the kitchen's main topic only the database broadcasts (0008).
        name = f"kitchen:{k.kitchen_id}:chat"
        priv_got: list[Any] = []
        pub_got: list[Any] = []
        pa = a.channel(name, {"config": {"private": True}})
        pa.on_broadcast("*", priv_got.append)
        await pa.subscribe()
        pb = b.channel(name)  # public, same name
        pb.on_broadcast("*", pub_got.append)
        await pb.subscribe()
        pb2 = b.channel(name + ":x", {"config": {"private": True, "broadcast": {"ack": True}}})
        await pb2.subscribe()
        await pb.send_broadcast("hello", {"from": "public"})
        sender_priv = a.channel(name + ":y", {"config": {"private": True}})
        await sender_priv.subscribe()
        c2 = await _client(stack, tok)
        try:
            pc = c2.channel(name, {"config": {"private": True, "broadcast": {"ack": True}}})
            await pc.subscribe()
            await pc.send_broadcast("hello", {"from": "private"})
            await wait_for(lambda: priv_got, what="private broadcast")
        finally:
            await c2.close()
        assert [plain(x)["payload"]["from"] for x in priv_got] == ["private"]
        assert pub_got == []
    finally:
        await a.close()
        await b.close()


async def test_token_update_resubscribes_and_rechecks(rts: Stack) -> None:
    stack = rts
    a = stack.seed()
    b = stack.seed()
    rec = await subscribe_changes(
        stack, stack.device_token(a), topic=f"kitchen:{a.kitchen_id}", private=True
    )
    try:
        n_sys = len(rec.system)
        await rec.client.set_auth(stack.device_token(a, ttl=7200))
        await wait_for(lambda: len(rec.system) > n_sys, what="re-sent Subscribed to PostgreSQL")
        assert rec.system[-1]["message"] == "Subscribed to PostgreSQL"
        with connect(stack.db_url) as conn:
            add_task(conn, a)
        await wait_for(lambda: rec.changes, what="change after token update")
        # A token for another kitchen loses the private channel.
        await rec.client.set_auth(stack.device_token(b))
        await wait_for(lambda: "CLOSED" in rec.state_names(), what="channel closed")
        assert "CHANNEL_ERROR" in rec.state_names()
        assert stack.service.stats()["channels"] == 0
    finally:
        await rec.client.close()


async def test_token_expiry_mid_subscription(rts: Stack) -> None:
    stack = rts
    k = stack.seed()
    tok = stack.device_token(k, ttl=2)
    rec = await subscribe_changes(stack, tok)
    try:
        errors: list[str] = []
        rec.channel.on_system(lambda p: None)
        await wait_for(lambda: "CLOSED" in rec.state_names(), limit=6, what="expiry close")
        errs = [e for s, e in rec.states if s == "CHANNEL_ERROR" and e]
        errors.extend(errs)
        assert any("Token has expired" in e for e in errors), rec.states
        assert stack.service.stats()["subscriptions"] == 0
    finally:
        await rec.client.close()


async def test_invalid_token_push_closes_channel(rts: Stack) -> None:
    stack = rts
    k = stack.seed()
    rec = await subscribe_changes(stack, stack.device_token(k))
    try:
        expired = stack.device_token(k, ttl=-5)
        t0 = time.monotonic()
        await rec.client.set_auth(expired)
        await wait_for(lambda: "CLOSED" in rec.state_names(), what="closed on expired token")
        assert time.monotonic() - t0 < 3
        assert any("Token has expired" in (e or "") for _, e in rec.states)
    finally:
        await rec.client.close()


async def test_rest_broadcast_batch_as_supabase_documents(rts: Stack) -> None:
    """`POST /realtime/v1/api/broadcast` with `{"messages": [...]}` (what Admin's back office
    sends): private topics need write permission; the service role has it."""
    import httpx

    stack = rts
    k, other = stack.seed(), stack.seed()
    c = await _client(stack, stack.device_token(k))
    try:
        got: list[Any] = []
        ch = c.channel(f"kitchen:{k.kitchen_id}", {"config": {"private": True}})
        ch.on_broadcast("announcement", lambda p: got.append(plain(p)))
        await ch.subscribe()
        url = f"{stack.http_url}/realtime/v1/api/broadcast"

        async def post(key: str, body: Any) -> httpx.Response:
            headers = {"apikey": key, "Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(timeout=5) as http:  # the server shares this loop
                return await http.post(url, json=body, headers=headers)

        msg = {
            "topic": f"kitchen:{k.kitchen_id}",
            "event": "announcement",
            "payload": {"message": "Service starts in 15 minutes"},
            "private": True,
        }
        assert (await post(stack.service_key, {"messages": [msg]})).status_code == 202
        await wait_for(lambda: got, what="batch broadcast delivered")
        assert got[0]["payload"] == {"message": "Service starts in 15 minutes"}
        # A display of another kitchen may not write this kitchen's topic: nothing is sent.
        refused = await post(stack.device_token(other), {"messages": [msg]})
        assert refused.status_code == 401
        for bad in ({}, {"messages": []}, {"messages": [{"topic": "x"}]}, [1, 2]):
            assert (await post(stack.service_key, bad)).status_code == 400
        assert (await post("not-a-jwt", {"messages": [msg]})).status_code == 401
        assert len(got) == 1
    finally:
        await c.close()
