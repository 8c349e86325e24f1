"""One WebSocket connection: frame decoding, Phoenix routing, heartbeats, channels."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from typing import Any

from aiohttp import WSMsgType, web

from caterking_server.realtime.authorization import Access
from caterking_server.realtime.broadcast import Hub, valid_broadcast
from caterking_server.realtime.channel import Channel
from caterking_server.realtime.limits import (
    CLOSE_GRACE_S,
    MAX_PRESENCE_BYTES,
    MAX_PRESENCE_DEPTH,
    MAX_QUEUED_FRAMES,
    Limits,
)
from caterking_server.realtime.postgres_changes.bindings import BindingError, parse_binding
from caterking_server.realtime.postgres_changes.feed import ChangeFeed
from caterking_server.realtime.presence import Presence
from caterking_server.realtime.serializers import (
    Binary,
    FrameError,
    Message,
    decode_binary,
    decode_text,
    frame_bytes,
    reply,
)
from caterking_server.tokens import TokenError

log = logging.getLogger(__name__)

SUBSCRIBED = "Subscribed to PostgreSQL"
TOO_MANY_CHANNELS = "ChannelRateLimitReached: Too many channels"


def nested_within(value: Any, depth: int) -> bool:
    """Whether `value` nests lists/objects at most `depth` levels (iterative)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > depth:
            return False
        stack.extend((c, level + 1) for c in children if isinstance(c, (dict, list)))
    return True


class Connection:
    """A socket, with what it needs of the server: its limits, the token and policy
    checks, the topics (broadcast, presence) and postgres_changes."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        vsn: str,
        apikey: str,
        *,
        limits: Limits,
        access: Access,
        hub: Hub,
        presence: Presence,
        changes: ChangeFeed,
        transport: asyncio.Transport | None = None,
        peer: str = "?",
    ) -> None:
        self.ws = ws
        self.vsn = vsn
        self.apikey = apikey
        self.limits = limits
        self.access = access
        self.hub = hub
        self.presence = presence
        self.changes = changes
        self.transport = transport
        self.peer = peer
        self.channels: dict[str, Channel] = {}
        # Outgoing frames, encoded (bytes shared with every other socket that gets the
        # same frame); one writer task drains it (None = close the socket).
        self.queue: deque[bytes | None] = deque()
        self.queued_bytes = 0  # bytes queued or being written: the budget counts these
        self._queued = asyncio.Event()
        self.closed = False
        self.last_heartbeat = asyncio.get_running_loop().time()
        self._refusals: set[str] = set()

    # --- output -------------------------------------------------------------------------

    def send(self, msg: Message) -> None:
        if self.closed:
            return
        try:
            frame = frame_bytes(msg, self.vsn)
        except (TypeError, ValueError, RecursionError) as exc:
            log.warning("could not encode %s: %s", msg.event, exc)
            return
        self.send_frame(frame)

    def send_frame(self, frame: bytes) -> None:
        """Queue an encoded frame (the same object may go to many sockets). A client
        that lets more than its budget pile up is not reading: it is disconnected."""
        if self.closed:
            return
        self.queued_bytes += len(frame)
        budget = self.limits.max_queued_bytes
        if self.queued_bytes > budget:
            self.drop(f"over its budget of {budget} queued bytes (not reading)")
            return
        if len(self.queue) >= MAX_QUEUED_FRAMES:
            self.drop(f"over {MAX_QUEUED_FRAMES} queued frames (not reading)")
            return
        self.queue.append(frame)
        self._queued.set()

    def drop(self, reason: str) -> None:
        """End the connection now, without waiting for the client: what was queued for
        it is released at once."""
        log.warning("realtime client %s disconnected: %s", self.peer, reason)
        self.closed = True
        self.queue.clear()
        self.queued_bytes = 0
        if self.transport is not None:
            self.transport.abort()
        self.queue.append(None)
        self._queued.set()

    def close_soon(self, reason: str) -> None:
        """A polite close (the client gets a close frame); forced if it does not finish."""
        if self.closed:
            return
        log.info("realtime client %s: %s; closing", self.peer, reason)
        self.closed = True
        self.queue.append(None)
        self._queued.set()

        def force() -> None:
            # A transport that is closing still waits to flush what a deaf client never
            # reads; abort drops it and ends the connection.
            if self.transport is not None:
                self.transport.abort()

        asyncio.get_running_loop().call_later(CLOSE_GRACE_S, force)

    async def shutdown(self) -> None:
        """The server is stopping: a close frame if the client takes it, then the end."""
        self.closed = True
        with contextlib.suppress(Exception):
            # A client that does not read would hold the close (and the shutdown).
            await asyncio.wait_for(self.ws.close(code=1001, message=b"server shutting down"), 2.0)
        if self.transport is not None:
            # close() waits to flush what the client never reads: abort drops it.
            self.transport.abort()

    def reply(self, msg: Message, status: str, response: Any) -> None:
        self.send(reply(msg.topic, msg.ref, msg.join_ref, status, response))

    async def writer(self) -> None:
        queue = self.queue
        ws = self.ws
        try:
            while True:
                await self._queued.wait()
                self._queued.clear()
                while queue:
                    frame = queue.popleft()
                    if frame is None:
                        await ws.close()
                        return
                    # Yields only when the transport's buffer is full (flow control).
                    try:
                        if isinstance(frame, Binary):
                            await ws.send_frame(frame, WSMsgType.BINARY)
                        else:
                            await ws.send_frame(frame, WSMsgType.TEXT)
                    finally:
                        self.queued_bytes = max(0, self.queued_bytes - len(frame))
        except (ConnectionError, RuntimeError) as exc:  # the transport went away
            log.debug("realtime writer for %s ended: %s", self.peer, exc)
            self.closed = True

    async def watchdog(self) -> None:
        """Phoenix's heartbeat timeout: a client that sends no heartbeat for this long is
        gone (answering WebSocket pings is not enough)."""
        loop = asyncio.get_running_loop()
        timeout = self.limits.heartbeat_timeout_s
        while not self.closed:
            left = self.last_heartbeat + timeout - loop.time()
            if left > 0:
                await asyncio.sleep(left)
                continue
            self.close_soon(f"no heartbeat for {timeout:g} s")
            return

    # --- input --------------------------------------------------------------------------

    async def run(self) -> None:
        writer = asyncio.create_task(self.writer(), name="realtime-ws-writer")
        watchdog = asyncio.create_task(self.watchdog(), name="realtime-ws-watchdog")
        try:
            while not self.closed:
                wmsg = await self.ws.receive()
                if wmsg.type == WSMsgType.TEXT:
                    await self.handle_frame(wmsg.data, binary=False)
                elif wmsg.type == WSMsgType.BINARY:
                    await self.handle_frame(wmsg.data, binary=True)
                elif wmsg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                    break
                elif wmsg.type == WSMsgType.ERROR:
                    log.info("realtime socket error from %s: %s", self.peer, wmsg.data)
                    break
        finally:
            self.closed = True
            for ch in list(self.channels.values()):
                self.forget(ch)
            self.channels.clear()
            self.queue.clear()
            self.queued_bytes = 0
            watchdog.cancel()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watchdog
            if not self.ws.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.ws.close(), CLOSE_GRACE_S)
            if self.transport is not None:
                self.transport.abort()  # nothing may stay buffered for a gone client

    async def handle_frame(self, data: Any, *, binary: bool) -> None:
        try:
            msg = decode_binary(data) if binary else decode_text(data, self.vsn)
        except FrameError as exc:
            log.info("ignoring malformed realtime frame: %s", exc)
            return
        try:
            await self.route(msg)
        except Exception:
            log.exception("error handling %s on %s", msg.event, msg.topic)
            self.reply(msg, "error", {"reason": "internal error"})

    async def route(self, msg: Message) -> None:
        if msg.topic == "phoenix":
            if msg.event == "heartbeat":
                self.last_heartbeat = asyncio.get_running_loop().time()
                self.reply(msg, "ok", {})
            else:
                self.reply(msg, "error", {"reason": "unmatched topic"})
            return
        if msg.event == "phx_join":
            if not msg.topic.startswith("realtime:"):
                self.reply(msg, "error", {"reason": "unmatched topic"})
                return
            await self.join(msg)
            return
        ch = self.channels.get(msg.topic)
        if ch is None:
            self.reply(msg, "error", {"reason": "unmatched topic"})
            return
        if msg.event == "phx_leave":
            self.reply(msg, "ok", {})
            self.close_channel(ch)
        elif msg.event == "access_token":
            await self.access_token(ch, msg)
        elif msg.event == "broadcast":
            self.handle_broadcast(ch, msg)
        elif msg.event == "presence":
            self.handle_presence(ch, msg)
        elif msg.event == "heartbeat":
            self.reply(msg, "ok", {})
        else:
            self.reply(msg, "error", {"reason": f"unknown event {msg.event!r}"})

    # --- channel lifecycle --------------------------------------------------------------

    def forget(self, ch: Channel) -> None:
        """The server forgets a channel: its expiry, subscriptions, presence, topic."""
        if not ch.alive:
            return
        ch.alive = False
        ch.cancel_expiry()
        self.changes.unsubscribe(ch)
        self.presence.untrack(ch)
        self.hub.remove(ch)

    def close_channel(self, ch: Channel) -> None:
        """Server-side end of a channel: phx_close with its join ref, then forget it."""
        self.send(Message(ch.topic, "phx_close", {}, ch.join_ref, ch.join_ref))
        if self.channels.get(ch.topic) is ch:
            del self.channels[ch.topic]
        self.forget(ch)

    def shutdown_channel(self, ch: Channel, message: str) -> None:
        if not ch.alive:
            return
        ch.system("system", "error", message)
        self.close_channel(ch)

    def schedule_expiry(self, ch: Channel) -> None:
        ch.cancel_expiry()
        try:
            exp = float(ch.claims["exp"])
        except (KeyError, TypeError, ValueError):
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, exp - time.time())

        def fire() -> None:
            ch.expiry = None
            if ch.alive:
                ago = max(0, int(time.time() - exp))
                self.shutdown_channel(ch, f"Token has expired {ago} seconds ago")

        ch.expiry = loop.call_later(delay, fire)

    def _refused(self, what: str) -> None:
        """Log a refused limit once per socket (an attacker repeats it thousands of times)."""
        if what not in self._refusals:
            self._refusals.add(what)
            log.warning("realtime client %s refused: %s", self.peer, what)

    async def join(self, msg: Message) -> None:
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        limit = self.limits.max_channels
        if msg.topic not in self.channels and len(self.channels) >= limit:
            self._refused(f"more than {limit} channels on one socket")
            self.reply(msg, "error", {"reason": TOO_MANY_CHANNELS})
            return
        ch = Channel(self, msg.topic, msg.join_ref or msg.ref, payload.get("config"))
        if not ch.name:
            self.reply(msg, "error", {"reason": "TopicNameRequired: You must provide a topic name"})
            return
        most = self.limits.max_bindings
        if len(ch.raw_bindings) > most:
            self._refused(f"more than {most} postgres_changes bindings in one channel")
            reason = (
                "Unable to subscribe to changes with given parameters: too many "
                f"postgres_changes bindings in one channel ({len(ch.raw_bindings)}; "
                f"at most {most})"
            )
            self.reply(msg, "error", {"reason": reason})
            return
        try:
            bindings = [parse_binding(raw) for raw in ch.raw_bindings]
        except BindingError as exc:
            self.reply(msg, "error", {"reason": str(exc)})
            return
        token = payload.get("access_token")
        if not isinstance(token, str) or not token or token.startswith("sb_"):
            token = self.apikey
        try:
            claims = self.access.claims(token)
        except TokenError as exc:
            self.reply(msg, "error", {"reason": str(exc)})
            return
        ch.set_claims(token, claims)
        if ch.private:
            pol = await self.access.policies(ch.name, ch.role, claims)
            if not pol.read:
                reason = (
                    "Unauthorized: You do not have permissions to read from this Channel topic: "
                    + ch.name
                )
                self.reply(msg, "error", {"reason": reason})
                return
            ch.can_write, ch.can_track = pol.write, pol.track
        ch.bindings = bindings
        old = self.channels.get(msg.topic)
        self.channels[msg.topic] = ch
        echoed = []
        for raw, b in zip(ch.raw_bindings, ch.bindings, strict=True):
            item = dict(raw) if isinstance(raw, dict) else {}
            item["id"] = b.id
            echoed.append(item)
        self.reply(msg, "ok", {"postgres_changes": echoed})
        if old is not None:
            # Duplicate join: ok to the new join first, then phx_close with the old ref.
            self.send(Message(old.topic, "phx_close", {}, old.join_ref, old.join_ref))
            self.forget(old)
        self.hub.add(ch)
        self.schedule_expiry(ch)
        if ch.presence_enabled:
            self.send(Message(ch.topic, "presence_state", self.presence.snapshot(ch.key)))
        if ch.bindings:
            await self.subscribe_changes(ch)

    async def subscribe_changes(self, ch: Channel) -> None:
        try:
            await self.changes.subscribe(ch, ch.bindings)
        except BindingError as exc:
            ch.system("postgres_changes", "error", str(exc))
            return
        if ch.alive:
            ch.system("postgres_changes", "ok", SUBSCRIBED)

    async def access_token(self, ch: Channel, msg: Message) -> None:
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        token = payload.get("access_token")
        if not isinstance(token, str) or not token or token.startswith("sb_"):
            return
        if token == ch.token:
            return
        try:
            claims = self.access.claims(token)
        except TokenError as exc:
            self.shutdown_channel(ch, exc.message)
            return
        ch.set_claims(token, claims)
        if ch.private:
            pol = await self.access.policies(ch.name, ch.role, claims)
            if not pol.read:
                self.shutdown_channel(
                    ch, f"You no longer have permission to read from this Channel topic: {ch.name}"
                )
                return
            ch.can_write, ch.can_track = pol.write, pol.track
        if not ch.alive:
            return
        self.schedule_expiry(ch)
        if ch.bindings:
            await self.subscribe_changes(ch)

    def handle_broadcast(self, ch: Channel, msg: Message) -> None:
        if not valid_broadcast(msg.payload):
            self.reply(msg, "error", {"reason": "Broadcast payload must be a map with an event"})
            return
        if isinstance(msg.payload, dict) and "meta" in msg.payload:
            # Metadata is the server's to give (a database broadcast's message id): a
            # client's own would pass for it, or (over 255 bytes) break the v2 frame.
            msg.payload = {k: v for k, v in msg.payload.items() if k != "meta"}
        try:
            msg.payload_json = json.dumps(msg.payload, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError):
            self.reply(msg, "error", {"reason": "Broadcast payload must be JSON"})
            return
        size = len(msg.binary) if msg.binary is not None else len(msg.payload_json)
        most = self.limits.max_message_bytes
        if size > most:
            self._refused(f"broadcast payload over {most} bytes")
            reason = f"PayloadTooLarge: a broadcast payload may be at most {most} bytes ({size})"
            self.reply(msg, "error", {"reason": reason})
            return
        if ch.private and not ch.can_write:
            # Not relayed. A sender waiting for an ack gets an error instead of silence.
            if ch.broadcast_ack:
                reason = (
                    "Unauthorized: You do not have permissions to write to this Channel topic: "
                    + ch.name
                )
                self.reply(msg, "error", {"reason": reason})
            return
        self.hub.broadcast(ch.key, msg, ch)
        if ch.broadcast_ack:
            self.reply(msg, "ok", {})

    def handle_presence(self, ch: Channel, msg: Message) -> None:
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        event = payload.get("event")
        if ch.private and not ch.can_track:
            self.reply(msg, "ok", {})
            return
        if event == "track":
            data = payload.get("payload")
            if not isinstance(data, dict):
                self.reply(msg, "error", {"reason": "Presence track payload must be a map"})
                return
            if not nested_within(data, MAX_PRESENCE_DEPTH):
                reason = f"Presence track payload is nested deeper than {MAX_PRESENCE_DEPTH}"
                self.reply(msg, "error", {"reason": reason})
                return
            size = len(json.dumps(data, separators=(",", ":")))
            if size > MAX_PRESENCE_BYTES:
                reason = f"PayloadTooLarge: a presence payload may be at most {MAX_PRESENCE_BYTES} bytes ({size})"
                self.reply(msg, "error", {"reason": reason})
                return
            self.presence.track(ch, data)
            self.reply(msg, "ok", {})
        elif event == "untrack":
            self.presence.untrack(ch)
            self.reply(msg, "ok", {})
        else:
            self.reply(msg, "error", {"reason": "Unknown presence event"})
