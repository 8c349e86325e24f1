"""One WebSocket connection: frame decoding, Phoenix routing, heartbeats, channels."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from ..tokens import TokenError, verify
from .authorization import authorize
from .broadcast import valid_broadcast
from .channel import Channel
from .postgres_changes import BindingError, parse_binding, validate_binding
from .serializers import FrameError, Message, decode_binary, decode_text, encode, reply

if TYPE_CHECKING:
    from .service import RealtimeService

log = logging.getLogger(__name__)

MAX_QUEUE = 10_000
SUBSCRIBED = "Subscribed to PostgreSQL"


class Connection:
    def __init__(
        self, service: RealtimeService, ws: web.WebSocketResponse, vsn: str, apikey: str
    ) -> None:
        self.service = service
        self.ws = ws
        self.vsn = vsn
        self.apikey = apikey
        self.channels: dict[str, Channel] = {}
        # Outgoing frames; one writer task drains it (None = close the socket).
        self.queue: deque[str | bytes | None] = deque()
        self._queued = asyncio.Event()
        self.closed = False

    # --- output -------------------------------------------------------------------------

    def send(self, msg: Message) -> None:
        if self.closed:
            return
        try:
            frame = encode(msg, self.vsn)
        except (TypeError, ValueError) as exc:
            log.warning("could not encode %s: %s", msg.event, exc)
            return
        self.send_frame(frame)

    def send_frame(self, frame: str | bytes) -> None:
        """Queue an encoded frame (the same object may go to many sockets)."""
        if self.closed:
            return
        if len(self.queue) >= MAX_QUEUE:
            log.warning("realtime client too slow; closing")
            self.closed = True
            self.queue.append(None)
        else:
            self.queue.append(frame)
        self._queued.set()

    def reply(self, msg: Message, status: str, response: Any) -> None:
        self.send(reply(msg.topic, msg.ref, msg.join_ref, status, response))

    async def writer(self) -> None:
        queue = self.queue
        while True:
            await self._queued.wait()
            self._queued.clear()
            while queue:
                frame = queue.popleft()
                if frame is None:
                    await self.ws.close()
                    return
                # Yields only when the transport's buffer is full (flow control).
                if isinstance(frame, bytes):
                    await self.ws.send_bytes(frame)
                else:
                    await self.ws.send_str(frame)

    # --- input --------------------------------------------------------------------------

    async def run(self) -> None:
        writer = asyncio.create_task(self.writer(), name="realtime-ws-writer")
        try:
            while not self.closed:
                try:
                    wmsg = await self.ws.receive(timeout=self.service.heartbeat_timeout_s)
                except TimeoutError:
                    log.info(
                        "realtime socket idle for %.0fs; closing", self.service.heartbeat_timeout_s
                    )
                    break
                if wmsg.type == WSMsgType.TEXT:
                    await self.handle_frame(wmsg.data, binary=False)
                elif wmsg.type == WSMsgType.BINARY:
                    await self.handle_frame(wmsg.data, binary=True)
                elif wmsg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                    break
                elif wmsg.type == WSMsgType.ERROR:
                    log.info("realtime socket error: %s", wmsg.data)
                    break
        finally:
            self.closed = True
            for ch in list(self.channels.values()):
                self.service.drop_channel(ch)
            self.channels.clear()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            if not self.ws.closed:
                with contextlib.suppress(Exception):
                    await self.ws.close()

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
            self.broadcast(ch, msg)
        elif msg.event == "presence":
            self.presence(ch, msg)
        elif msg.event == "heartbeat":
            self.reply(msg, "ok", {})
        else:
            self.reply(msg, "error", {"reason": f"unknown event {msg.event!r}"})

    # --- channel lifecycle --------------------------------------------------------------

    def close_channel(self, ch: Channel) -> None:
        """Server-side end of a channel: phx_close with its join ref, then forget it."""
        self.send(Message(ch.topic, "phx_close", {}, ch.join_ref, ch.join_ref))
        if self.channels.get(ch.topic) is ch:
            del self.channels[ch.topic]
        self.service.drop_channel(ch)

    def shutdown_channel(self, ch: Channel, message: str) -> None:
        if not ch.alive:
            return
        ch.system("system", "error", message)
        self.close_channel(ch)

    def _verify(self, token: str) -> dict[str, Any]:
        return verify(token, self.service.jwt_secret)

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

    async def join(self, msg: Message) -> None:
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        ch = Channel(self, msg.topic, msg.join_ref or msg.ref, payload.get("config"))
        if not ch.name:
            self.reply(msg, "error", {"reason": "TopicNameRequired: You must provide a topic name"})
            return
        token = payload.get("access_token")
        if not isinstance(token, str) or not token or token.startswith("sb_"):
            token = self.apikey
        try:
            claims = self._verify(token)
        except TokenError as exc:
            self.reply(msg, "error", {"reason": str(exc)})
            return
        ch.set_claims(token, claims)
        if ch.private:
            pol = await authorize(self.service.auth_pool, ch.name, ch.role, claims)
            if not pol.read:
                reason = (
                    "Unauthorized: You do not have permissions to read from this Channel topic: "
                    + ch.name
                )
                self.reply(msg, "error", {"reason": reason})
                return
            ch.can_write = pol.write
        ch.bindings = [parse_binding(raw) for raw in ch.raw_bindings]
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
            self.service.drop_channel(old)
        self.service.hub.add(ch)
        self.schedule_expiry(ch)
        if ch.presence_enabled:
            self.send(Message(ch.topic, "presence_state", self.service.presence.snapshot(ch.key)))
        if ch.bindings:
            await self.subscribe_changes(ch)

    async def subscribe_changes(self, ch: Channel) -> None:
        try:
            for b in ch.bindings:
                await validate_binding(b, self.service.catalog)
        except BindingError as exc:
            ch.system("postgres_changes", "error", str(exc))
            return
        if not ch.alive:
            return
        self.service.registry.remove(ch)
        self.service.registry.add(ch, ch.bindings)
        ch.system("postgres_changes", "ok", SUBSCRIBED)

    async def access_token(self, ch: Channel, msg: Message) -> None:
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        token = payload.get("access_token")
        if not isinstance(token, str) or not token or token.startswith("sb_"):
            return
        if token == ch.token:
            return
        try:
            claims = self._verify(token)
        except TokenError as exc:
            self.shutdown_channel(ch, exc.message)
            return
        ch.set_claims(token, claims)
        if ch.private:
            pol = await authorize(self.service.auth_pool, ch.name, ch.role, claims)
            if not pol.read:
                self.shutdown_channel(
                    ch, f"You no longer have permission to read from this Channel topic: {ch.name}"
                )
                return
            ch.can_write = pol.write
        if not ch.alive:
            return
        self.schedule_expiry(ch)
        if ch.bindings:
            await self.subscribe_changes(ch)

    def broadcast(self, ch: Channel, msg: Message) -> None:
        if not valid_broadcast(msg.payload):
            self.reply(msg, "error", {"reason": "Broadcast payload must be a map with an event"})
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
        self.service.hub.broadcast(ch.key, msg, ch)
        if ch.broadcast_ack:
            self.reply(msg, "ok", {})

    def presence(self, ch: Channel, msg: Message) -> None:
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        event = payload.get("event")
        if ch.private and not ch.can_write:
            self.reply(msg, "ok", {})
            return
        if event == "track":
            data = payload.get("payload")
            if not isinstance(data, dict):
                self.reply(msg, "error", {"reason": "Presence track payload must be a map"})
                return
            self.service.presence.track(ch, data)
            self.reply(msg, "ok", {})
        elif event == "untrack":
            self.service.presence.untrack(ch)
            self.reply(msg, "ok", {})
        else:
            self.reply(msg, "error", {"reason": "Unknown presence event"})
