"""Broadcast from the database, end to end over real sockets with supabase-py, as a board
uses it: a display signs in, joins its kitchen's private channel, proves the path with
feed_probe, then hears every change of its kitchen's tasks and chefs and of its tenant's
estimates; other kitchens and tenants hear nothing of it; anon cannot join."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from realtime import AsyncRealtimeChannel
from supabase import AsyncClient, acreate_client

from caterking_server.stack import LocalStack
from tests.pg import Kitchen, add_task, connect, seed_kitchen
from tests.schema.test_kitchen_scope import add_kitchen
from tests.server.helpers import PASSWORD, create_user, display_meta, options
from tests.server.realtime.conftest import Stack, new_id
from tests.server.realtime.wsclient import RawClient
from tests.waiting import until


@dataclass
class Board:
    """A display: a signed-in supabase-py client joined to `kitchen:<id>` (private)."""

    client: AsyncClient
    channel: AsyncRealtimeChannel | None
    states: list[str] = field(default_factory=list)
    got: list[dict[str, Any]] = field(default_factory=list)

    def events(self, table: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for b in self.got:
            inner = b.get("payload") or {}
            if table is None or inner.get("table") == table:
                out.append((b["event"], inner))
        return out

    def nonces(self) -> list[str]:
        return [b["payload"]["nonce"] for b in self.got if b.get("event") == "caterking_probe"]


async def join(stack: LocalStack, k: Kitchen | None, topic_kitchen: str) -> Board:
    """Sign in as a new display of `k` (None: stay anon) and join `kitchen:<topic_kitchen>`."""
    client = await acreate_client(stack.url, stack.anon_key, options())
    if k is not None:
        _, email = create_user(stack, app_metadata=display_meta(k))
        await client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    board = Board(client, None)
    channel = client.channel(f"kitchen:{topic_kitchen}", {"config": {"private": True}})
    channel.on_broadcast("*", lambda payload: board.got.append(dict(payload)))
    await channel.subscribe(lambda s, e: board.states.append(s.value))
    board.channel = channel
    await until(lambda: board.states, 10)
    return board


async def probe(board: Board, within: float = 10) -> str:
    """feed_probe over REST; returns once the nonce came back on the channel."""
    nonce = uuid.uuid4().hex
    reply = await board.client.rpc("feed_probe", {"p_nonce": nonce}).execute()
    assert isinstance(reply.data, dict) and reply.data["topic"].startswith("kitchen:")
    await until(lambda: nonce in board.nonces(), within)
    return nonce


async def close(*boards: Board) -> None:
    for b in boards:
        await b.client.remove_all_channels()
        await b.client.realtime.close()


@pytest.fixture
def world(stack: LocalStack) -> tuple[Kitchen, Kitchen, Kitchen]:
    """Kitchens A and B of one tenant, C of another."""
    with connect(stack.db_dsn) as conn:
        a = seed_kitchen(conn)
        b = add_kitchen(conn, a.tenant_id)
        c = seed_kitchen(conn)
    return a, b, c


@pytest.fixture
async def boards(
    stack: LocalStack, world: tuple[Kitchen, Kitchen, Kitchen]
) -> AsyncIterator[tuple[Board, Board, Board]]:
    a, b, c = world
    joined = [await join(stack, k, k.kitchen_id) for k in (a, b, c)]
    try:
        for j in joined:
            assert j.states == ["SUBSCRIBED"], j.states
            await probe(j)  # the whole path works before anything is relied on
            # Messages come in commit order: whatever the seeding sent (the chefs' rows)
            # came before the probe. Start from nothing.
            j.got.clear()
        yield joined[0], joined[1], joined[2]
    finally:
        await close(*joined)


async def test_a_display_hears_its_kitchens_changes_and_no_one_else_does(
    stack: LocalStack,
    world: tuple[Kitchen, Kitchen, Kitchen],
    boards: tuple[Board, Board, Board],
) -> None:
    a, _b, _c = world
    board_a, board_b, board_c = boards
    with connect(stack.db_dsn) as conn:
        tid = add_task(conn, a, title="Dice onions", allergens=["celery"])
        conn.execute("update tasks set priority = 2 where id = %s", (tid,))
        conn.execute("update staff set display_name = 'Sam Lee' where id = %s", (a.staff[0],))
        conn.execute("delete from tasks where id = %s", (tid,))
        row = conn.execute("select version from tasks where id = %s", (tid,)).fetchone()
    assert row is None

    def task_events() -> list[tuple[str, dict[str, Any]]]:
        return board_a.events("tasks")

    await until(lambda: len(task_events()) == 3 and board_a.events("staff"), 10)
    (ins_ev, ins), (upd_ev, upd), (del_ev, dele) = task_events()
    assert (ins_ev, upd_ev, del_ev) == ("INSERT", "UPDATE", "DELETE")
    assert ins["record"]["id"] == tid and ins["record"]["allergens"] == ["celery"]
    assert ins["old_record"] is None and ins["schema"] == "public"
    assert upd["record"]["priority"] == 2 and upd["record"]["version"] == 2
    assert upd["old_record"] == {"id": tid, "kitchen_id": a.kitchen_id}
    assert dele["record"] is None and dele["old_record"] == {"id": tid, "kitchen_id": a.kitchen_id}
    [(staff_ev, staff)] = board_a.events("staff")
    assert staff_ev == "UPDATE" and staff["record"]["display_name"] == "Sam Lee"
    assert "created_at" not in staff["record"]
    # As hosted: meta.id is the message's id, which realtime.send also put in the payload.
    first = next(b for b in board_a.got if (b.get("payload") or {}).get("table") == "tasks")
    assert first["meta"] == {"id": first["payload"]["id"]}

    # The tenant's estimate rows (written when the task was added) reached A and B, not C.
    await until(lambda: board_a.events("prep_estimates") and board_b.events("prep_estimates"), 10)
    # B and C, probed after the changes, heard nothing else of A's: their probe is the
    # last thing they got, and it arrived after A's changes were committed.
    await probe(board_b)
    await probe(board_c)
    assert board_b.events("tasks") == [] and board_b.events("staff") == []
    assert board_c.events("tasks") == board_c.events("staff") == []
    assert board_c.events("prep_estimates") == []
    assert board_a.nonces() == []  # B's and C's probes never reached A


async def test_task_actions_of_the_board_come_back_as_broadcasts(
    stack: LocalStack,
    world: tuple[Kitchen, Kitchen, Kitchen],
    boards: tuple[Board, Board, Board],
) -> None:
    a, _b, _c = world
    board_a, board_b, _board_c = boards
    with connect(stack.db_dsn) as conn:
        tid = add_task(conn, a)
    await until(lambda: board_a.events("tasks"), 10)
    reply = await board_a.client.rpc(
        "claim_task",
        {"p_task_id": tid, "p_staff_id": a.staff[1], "p_op_id": str(uuid.uuid4()), "p_device": "x"},
    ).execute()
    assert reply.data["outcome"] == "applied"
    await until(lambda: len(board_a.events("tasks")) == 2, 10)
    ev, upd = board_a.events("tasks")[-1]
    assert ev == "UPDATE" and upd["record"]["status"] == "claimed"
    assert upd["record"]["claimed_by"] == a.staff[1]
    await probe(board_b)
    assert board_b.events("tasks") == []


async def test_other_kitchens_and_anon_cannot_join_or_probe(
    stack: LocalStack, world: tuple[Kitchen, Kitchen, Kitchen]
) -> None:
    a, b, c = world
    intruders = [
        await join(stack, b, a.kitchen_id),  # same tenant, other kitchen
        await join(stack, c, a.kitchen_id),  # other tenant
        await join(stack, None, a.kitchen_id),  # anon
    ]
    try:
        for i in intruders:
            assert i.states[0] == "CHANNEL_ERROR", i.states
        anon = intruders[2]
        with pytest.raises(Exception) as refused:
            await anon.client.rpc("feed_probe", {"p_nonce": "n"}).execute()
        assert "42501" in str(refused.value) or "permission denied" in str(refused.value)
    finally:
        await close(*intruders)


async def test_feed_probe_nonce_bounds_over_rest(
    stack: LocalStack, world: tuple[Kitchen, Kitchen, Kitchen]
) -> None:
    a, _b, _c = world
    board = await join(stack, a, a.kitchen_id)
    try:
        with pytest.raises(Exception, match="1 to 64 characters"):
            await board.client.rpc("feed_probe", {"p_nonce": "x" * 65}).execute()
        await probe(board)
    finally:
        await close(board)


async def test_messages_past_the_retention_are_deleted(rts: Stack) -> None:
    """The server deletes rows of realtime.messages older than its retention (one hour by
    default), and only those."""
    rts.sql(
        "insert into realtime.messages (topic, extension, event, payload, private, inserted_at)"
        " values ('kitchen:old', 'broadcast', 'x', '{}', true, now() - interval '2 hours'),"
        " ('kitchen:new', 'broadcast', 'x', '{}', true, now() - interval '50 minutes')"
    )
    assert await rts.service.prune_messages() == 1
    rows = rts.sql("select topic from realtime.messages where topic like 'kitchen:%%'")
    assert [r["topic"] for r in rows] == ["kitchen:new"]


async def test_the_exact_frames_v1_and_v2(rts: Stack) -> None:
    """The frame a client receives, byte for byte where it matters (docs/kitchen-server.md,
    "The frame a client receives")."""
    k = rts.seed()
    topic = f"realtime:kitchen:{k.kitchen_id}"
    v1 = await RawClient.connect(rts.ws_url, rts.anon)
    v2 = await RawClient.connect(rts.ws_url, rts.anon, vsn="2.0.0")
    try:
        for c in (v1, v2):
            await c.join(topic, {"private": True}, rts.device_token(k))
            reply = await c.recv_until(lambda f: "phx_reply" in str(f))
            assert "ok" in str(reply)
        tid = new_id()
        rts.sql(
            "insert into tasks (id, tenant_id, kitchen_id, title) values (%s, %s, %s, 'Zest')",
            tid,
            k.tenant_id,
            k.kitchen_id,
        )
        [msg] = rts.sql(
            "select id::text, payload::text as p from realtime.messages "
            "where topic = %s and payload ->> 'table' = 'tasks'",
            f"kitchen:{k.kitchen_id}",
        )

        def of_tasks(f: Any) -> bool:  # the kitchen's staff, seeded just before, come too
            return (
                isinstance(f, dict)
                and f["event"] == "broadcast"
                and f["payload"]["payload"]["table"] == "tasks"
            )

        frame = await v1.recv_until(of_tasks)
        assert set(frame) == {"topic", "event", "payload", "ref"}
        assert frame["topic"] == topic and frame["ref"] is None
        assert frame["payload"] == {
            "event": "INSERT",
            "meta": {"id": msg["id"]},
            "payload": json.loads(msg["p"]),
            "type": "broadcast",
        }
        assert frame["payload"]["payload"]["record"]["id"] == tid

        raw = await v2.recv_until(lambda f: isinstance(f, bytes) and b'"table": "tasks"' in f)
        meta = json.dumps({"id": msg["id"]}, separators=(",", ":")).encode()
        head = bytes([4, len(topic), len("INSERT"), len(meta), 1])
        assert raw == head + topic.encode() + b"INSERT" + meta + msg["p"].encode()
    finally:
        await v1.close()
        await v2.close()


async def test_a_public_channel_of_the_same_name_gets_nothing(rts: Stack) -> None:
    """Rows sent with private = true reach private channels only, as hosted."""
    k = rts.seed()
    topic = f"realtime:kitchen:{k.kitchen_id}"
    public = await RawClient.connect(rts.ws_url, rts.anon)
    private = await RawClient.connect(rts.ws_url, rts.anon)
    try:
        await public.join(topic, {}, rts.device_token(k))
        await private.join(topic, {"private": True}, rts.device_token(k))
        for c in (public, private):
            await c.recv_until(lambda f: isinstance(f, dict) and f["event"] == "phx_reply")
        rts.sql(
            "insert into tasks (tenant_id, kitchen_id, title) values (%s, %s, 'Zest')",
            k.tenant_id,
            k.kitchen_id,
        )
        await private.recv_until(lambda f: isinstance(f, dict) and f["event"] == "broadcast")
        # The public channel's next frame is its own heartbeat reply, not a broadcast.
        await public.push("phoenix", "heartbeat", {})
        nxt = await public.recv_until(lambda f: isinstance(f, dict))
        assert nxt["event"] == "phx_reply" and nxt["topic"] == "phoenix"
    finally:
        await public.close()
        await private.close()


async def test_a_display_cannot_forge_a_database_change(rts: Stack) -> None:
    """Migration 0008: on `kitchen:<id>` only the database broadcasts. A display's
    'UPDATE' there is refused and reaches no one; it still tracks presence there, and
    broadcasts on a sub-topic (`kitchen:<id>:chat`) as before."""
    k = rts.seed()
    topic = f"realtime:kitchen:{k.kitchen_id}"
    chat = topic + ":chat"
    forger = await RawClient.connect(rts.ws_url, rts.anon)
    victim = await RawClient.connect(rts.ws_url, rts.anon)
    seen: list[Any] = []

    def saw(pred: Any) -> Any:
        def check(f: Any) -> bool:
            seen.append(f)
            return bool(pred(f))

        return check

    def reply_to(ref: str) -> Any:
        return lambda f: isinstance(f, dict) and f["event"] == "phx_reply" and f["ref"] == ref

    try:
        for c in (forger, victim):
            for t in (topic, chat):
                cfg = {"private": True, "broadcast": {"ack": True}, "presence": {"key": "d"}}
                ref = await c.join(t, cfg, rts.device_token(k))
                reply = await c.recv_until(reply_to(ref))
                assert reply["payload"]["status"] == "ok", reply
        forged = {
            "type": "broadcast",
            "event": "UPDATE",
            "payload": {"table": "tasks", "record": {"id": new_id(), "version": 99}},
        }
        ref = await forger.push(topic, "broadcast", forged, join_ref="1")
        reply = await forger.recv_until(reply_to(ref))
        assert reply["payload"]["status"] == "error"
        assert "Unauthorized" in reply["payload"]["response"]["reason"]

        # Presence on the main topic still works for displays.
        ref = await forger.push(
            topic, "presence", {"type": "presence", "event": "track", "payload": {"device": "f"}}
        )
        await victim.recv_until(
            saw(lambda f: isinstance(f, dict) and f["event"] == "presence_diff")
        )
        # A broadcast on the kitchen's sub-topic goes through.
        ref = await forger.push(
            chat, "broadcast", {"type": "broadcast", "event": "note", "payload": {"n": 1}}
        )
        await victim.recv_until(
            saw(lambda f: isinstance(f, dict) and f["event"] == "broadcast" and f["topic"] == chat)
        )
        # A real change, committed after the forgery, arrives; the forgery never did.
        rts.sql(
            "insert into tasks (tenant_id, kitchen_id, title) values (%s, %s, 'Zest')",
            k.tenant_id,
            k.kitchen_id,
        )
        await victim.recv_until(
            saw(
                lambda f: (
                    isinstance(f, dict)
                    and f["event"] == "broadcast"
                    and f["topic"] == topic
                    and f["payload"]["payload"].get("table") == "tasks"
                )
            )
        )
        forgeries = [
            f
            for f in seen
            if isinstance(f, dict)
            and f["event"] == "broadcast"
            and (f["payload"].get("payload") or {}).get("record", {}).get("version") == 99
        ]
        assert forgeries == []
    finally:
        await forger.close()
        await victim.close()


async def test_a_clients_own_meta_is_not_relayed(rts: Stack) -> None:
    """`meta` (a database broadcast's message id) is the server's to give: a client's
    broadcast with its own, even one too long for a v2 frame, reaches the others without
    it, in v1 and v2."""
    k = rts.seed()
    topic = f"realtime:kitchen:{k.kitchen_id}:chat"
    sender = await RawClient.connect(rts.ws_url, rts.anon)
    v1 = await RawClient.connect(rts.ws_url, rts.anon)
    v2 = await RawClient.connect(rts.ws_url, rts.anon, vsn="2.0.0")
    try:
        for c in (sender, v1, v2):
            await c.join(topic, {"private": True}, rts.device_token(k))
            await c.recv_until(lambda f: "phx_reply" in str(f))
        fake = {"id": "x" * 300}
        await sender.push(
            topic, "broadcast", {"type": "broadcast", "event": "note", "payload": {}, "meta": fake}
        )
        got = await v1.recv_until(lambda f: isinstance(f, dict) and f["event"] == "broadcast")
        assert "meta" not in got["payload"] and got["payload"]["event"] == "note"
        raw = await v2.recv_until(lambda f: "note" in str(f))
        assert b"x" * 300 not in (raw if isinstance(raw, bytes) else str(raw).encode())
    finally:
        for c in (sender, v1, v2):
            await c.close()
