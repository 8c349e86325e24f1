"""One Realtime socket + one private kitchen channel, built on realtime-py 2.34.1.

realtime-py is used for the Phoenix protocol (join payloads, binding ids, presence,
broadcast, ``set_auth``), with its known faults worked around here (how a link is
used: ``docs/architecture.md``, "How a link comes up"):

- auto-reconnect is off: a lost socket or a closed/errored channel ends this link and
  the sync supervisor builds a new one (the client's own retries give up after five);
- every frame goes through our receive loop: a callback or presence exception is
  logged and the loop carries on (an exception would otherwise kill the listener
  while the client still looks connected); malformed frames are logged and dropped;
- heartbeats carry a ref and their replies are tracked (realtime-py ignores them), at
  a short interval, so a half-open link is noticed in seconds (``heartbeat_age``);
- channel rejoin timers and pending push timeouts are cancelled on close, so
  rebuilding the link a thousand times leaves no tasks behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import websockets
from pydantic import ValidationError
from realtime import AsyncRealtimeClient, RealtimeSubscribeStates
from realtime._async.channel import AsyncRealtimeChannel
from realtime.message import Message, ReplyMessage, ServerMessageAdapter

from caterking_display.backend.types import (
    AuthExpired,
    ChangeEvent,
    LinkHandlers,
    SystemEvent,
    TransportError,
)
from caterking_display.domain.sync_status import Feed

log = logging.getLogger(__name__)

DB_EVENTS = frozenset({"INSERT", "UPDATE", "DELETE"})
"""Broadcast events that carry a row change from the database (``realtime.send`` with
the operation as the event, in ``realtime.broadcast_changes``' payload shape)."""
CLOSE_WAIT_S = 2.0  # how long close() waits for the client's tasks to end


def db_change(event: str, payload: dict[str, Any]) -> ChangeEvent | None:
    """A database broadcast's payload (``{"operation", "schema", "table", "record",
    "old_record"}``) as the ChangeEvent postgres_changes would have given; None when it
    is not one."""
    table = payload.get("table")
    operation = payload.get("operation", event)
    record = payload.get("record")
    old = payload.get("old_record")
    if (
        not isinstance(table, str)
        or operation != event
        or payload.get("schema", "public") != "public"
    ):
        return None
    if not isinstance(record, dict | None) or not isinstance(old, dict | None):
        return None
    if (record if event != "DELETE" else old) is None:
        return None
    return ChangeEvent(
        table=table,
        type=event,
        record=record,
        old_record=old,
        commit_timestamp=None,
        partial=payload.get("truncated") is True,
    )


def _safe(name: str, fn: Callable[..., Any]) -> Callable[..., None]:
    """Wrap a callback handed to realtime-py: an exception is logged, never raised."""

    def wrapped(*args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("realtime: %s callback failed; ignored", name)

    return wrapped


class _Client(AsyncRealtimeClient):
    """realtime-py's client with our receive loop and tracked heartbeats."""

    def __init__(self, url: str, token: str, *, hb_interval: float, timeout: float) -> None:
        super().__init__(url, token, auto_reconnect=False, timeout=max(1, round(timeout)))
        self.hb_seconds = hb_interval
        self.last_reply = time.monotonic()
        self.last_frame = time.monotonic()
        self.on_frame: Callable[[], None] | None = None
        self.on_lost: Callable[[str], None] | None = None
        self._hb_refs: set[str] = set()
        self.closing = False

    async def _listen(self) -> None:
        ws = self._ws_connection
        if ws is None:
            return
        reason = "socket closed by server"
        try:
            async for raw in ws:
                now = time.monotonic()
                self.last_frame = now
                if self.on_frame is not None:
                    self.on_frame()
                try:
                    message = ServerMessageAdapter.validate_json(raw)
                except ValidationError:
                    log.warning("realtime: ignored a malformed frame: %.300r", raw)
                    continue
                except Exception:
                    log.exception("realtime: could not parse a frame: %.300r", raw)
                    continue
                if message.topic == "phoenix":
                    if isinstance(message, ReplyMessage) and message.ref in self._hb_refs:
                        self._hb_refs.discard(message.ref)
                        self.last_reply = now
                    continue
                channel = self.channels.get(message.topic)
                if channel is None:
                    continue
                try:
                    channel._handle_message(message)
                except Exception:
                    log.exception("realtime: handling %s failed; ignored", message.event)
        except websockets.exceptions.ConnectionClosed as exc:
            reason = f"socket closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"socket failed: {exc}"
        if not self.closing and self.on_lost is not None:
            self.on_lost(reason)

    async def _heartbeat(self) -> None:
        while self.is_connected and not self.closing:
            ref = self._make_ref()
            if len(self._hb_refs) > 16:
                self._hb_refs.clear()
            self._hb_refs.add(ref)
            try:
                await self.send(Message(topic="phoenix", event="heartbeat", payload={}, ref=ref))
            except Exception as exc:
                if not self.closing and self.on_lost is not None:
                    self.on_lost(f"heartbeat send failed: {exc}")
                return
            await asyncio.sleep(self.hb_seconds)

    async def _on_connect_error(self, e: websockets.exceptions.ConnectionClosedError) -> None:
        # Called from send() when the socket is gone; no auto-reconnect: report it.
        self._ws_connection = None
        if not self.closing and self.on_lost is not None:
            self.on_lost(f"socket closed ({e.code})")


class RealtimeLink:
    """A joined ``kitchen:<id>`` private channel on its own socket."""

    def __init__(
        self,
        client: _Client,
        handlers: LinkHandlers,
        device: str,
        feed: Feed = Feed.POSTGRES_CHANGES,
    ) -> None:
        self._client = client
        self._handlers = handlers
        self._device = device
        self._feed = feed
        self._channel: AsyncRealtimeChannel | None = None
        self._closed = False
        self._subscribed = False
        self.close_reason: str | None = None

    @classmethod
    async def open(
        cls,
        url: str,
        anon_key: str,
        *,
        kitchen_id: str,
        tenant_id: str | None = None,
        access_token: str,
        device: str,
        handlers: LinkHandlers,
        heartbeat_interval: float,
        timeout: float,  # noqa: ASYNC109
        feed: Feed = Feed.POSTGRES_CHANGES,
    ) -> RealtimeLink:
        client = _Client(
            f"{url.rstrip('/')}/realtime/v1",
            anon_key,
            hb_interval=heartbeat_interval,
            timeout=timeout,
        )
        link = cls(client, handlers, device, feed)
        try:
            await link._open(kitchen_id, access_token, timeout, tenant_id)
        except BaseException:
            await link.close()
            raise
        return link

    async def _open(
        self,
        kitchen_id: str,
        access_token: str,
        timeout: float,  # noqa: ASYNC109
        tenant_id: str | None = None,
    ) -> None:
        client = self._client
        h = self._handlers
        client.on_lost = self._lost
        if h.on_message is not None:
            client.on_frame = _safe("message", h.on_message)
        try:
            await asyncio.wait_for(client.connect(), timeout)
        except TimeoutError as exc:
            raise TransportError("realtime: connect timed out") from exc
        except Exception as exc:
            text = str(exc)
            if "401" in text or "expired" in text.lower():
                raise AuthExpired(f"realtime: {text}") from exc
            raise TransportError(f"realtime: cannot connect: {text}") from exc
        client.last_reply = time.monotonic()
        await client.set_auth(access_token)
        channel = client.channel(
            f"kitchen:{kitchen_id}",
            {
                "config": {
                    "broadcast": {"ack": False, "self": False},
                    "presence": {"key": self._device, "enabled": True},
                    "private": True,
                }
            },
        )
        self._channel = channel
        if self._feed is Feed.POSTGRES_CHANGES:
            flt = f"kitchen_id=eq.{kitchen_id}"
            on_pg = _safe("postgres_changes", self._on_pg)
            channel.on_postgres_changes("*", on_pg, table="tasks", schema="public", filter=flt)  # type: ignore[arg-type]
            channel.on_postgres_changes("*", on_pg, table="staff", schema="public", filter=flt)  # type: ignore[arg-type]
            # Learned estimates are per tenant (row-level security scopes them either way).
            est_filter = f"tenant_id=eq.{tenant_id}" if tenant_id else None
            channel.on_postgres_changes(
                "*",  # type: ignore[arg-type]
                on_pg,
                table="prep_estimates",
                schema="public",
                filter=est_filter,
            )
        channel.on_system(_safe("system", self._on_system))
        channel.on_broadcast("*", _safe("broadcast", self._on_broadcast))
        channel.on_presence_sync(_safe("presence", self._on_presence))

        first: asyncio.Future[tuple[RealtimeSubscribeStates, Exception | None]] = (
            asyncio.get_running_loop().create_future()
        )

        def on_state(state: RealtimeSubscribeStates, err: Exception | None) -> None:
            if not first.done():
                first.set_result((state, err))
                return
            if state is not RealtimeSubscribeStates.SUBSCRIBED:
                self._lost(f"channel {state.value}: {err}" if err else f"channel {state.value}")

        try:
            await asyncio.wait_for(channel.subscribe(_safe("subscribe", on_state)), timeout)
        except TimeoutError as exc:
            raise TransportError("realtime: join timed out") from exc
        if not first.done():
            raise TransportError("realtime: join ended without an answer")
        state, err = first.result()
        if state is not RealtimeSubscribeStates.SUBSCRIBED:
            text = str(err) if err else state.value
            if "InvalidJWTToken" in text or "expired" in text.lower():
                raise AuthExpired(f"realtime join refused: {text}")
            raise TransportError(f"realtime join failed: {text}")
        self._subscribed = True
        if self._closed:
            raise TransportError(f"realtime: {self.close_reason or 'closed during join'}")
        await channel.track({"device": self._device, "online_at": datetime.now(UTC).isoformat()})

    # --- callbacks (all wrapped) -------------------------------------------------

    def _on_pg(self, payload: Any) -> None:
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            log.warning("realtime: postgres_changes without data ignored")
            return
        typ = data.get("type")
        type_s = getattr(typ, "value", typ)
        rec = data.get("record")
        old = data.get("old_record")
        errors = data.get("errors")
        self._handlers.on_change(
            ChangeEvent(
                table=str(data.get("table")),
                type=str(type_s),
                record=rec if isinstance(rec, dict) else None,
                old_record=old if isinstance(old, dict) else None,
                commit_timestamp=data.get("commit_timestamp"),
                errors=list(errors) if isinstance(errors, list) else None,
            )
        )

    def _on_system(self, payload: Any) -> None:
        def get(key: str) -> str:
            if isinstance(payload, dict):
                return str(payload.get(key))
            return str(getattr(payload, key, None))

        self._handlers.on_system(
            SystemEvent(extension=get("extension"), status=get("status"), message=get("message"))
        )

    def _on_broadcast(self, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        event = str(payload.get("event"))
        inner = payload.get("payload")
        inner = inner if isinstance(inner, dict) else {}
        if event in DB_EVENTS:
            # A change the database broadcast to the kitchen's channel (displays may not
            # broadcast on it: migration 0008). Merged like any change: version-gated.
            if self._feed is Feed.BROADCAST:
                change = db_change(event, inner)
                if change is None:
                    log.warning("realtime: ignored a malformed %s broadcast", event)
                else:
                    self._handlers.on_change(change)
            return
        self._handlers.on_broadcast(event, inner)

    def _on_presence(self) -> None:
        if self._channel is None:
            return
        state = self._channel.presence_state()
        self._handlers.on_presence(len(state))

    def _lost(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self.close_reason = reason
        log.info("realtime: link lost: %s", reason)
        if self._subscribed:
            _safe("close", self._handlers.on_close)(reason)

    # --- Link protocol -----------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def heartbeat_age(self) -> float:
        return time.monotonic() - self._client.last_reply

    async def set_auth(self, access_token: str) -> None:
        if self._closed:
            return
        await self._client.set_auth(access_token)

    async def close(self) -> None:
        client = self._client
        client.closing = True
        self._closed = True
        tasks: list[asyncio.Task[Any]] = []
        for ch in list(client.channels.values()):
            ch.rejoin_timer.reset()
            pushes = [ch.join_push, *ch.messages_waiting_for_ack.values(), *ch._push_buffer]
            for push in pushes:
                t = push.timeout_task
                if t is not None and not t.done():
                    t.cancel()
                    tasks.append(t)
            ch.messages_waiting_for_ack.clear()
            for bt in list(ch._background_tasks):
                bt.cancel()
                tasks.append(bt)
        listen, beat = client._listen_task, client._heartbeat_task
        ws = client._ws_connection
        client._ws_connection = None
        client._close_generation += 1
        for ch in list(client.channels.values()):
            ch._release_subscribe_waiter()
        client.channels.clear()
        for t in (listen, beat):
            if t is not None and not t.done() and t is not asyncio.current_task():
                t.cancel()
                tasks.append(t)
        client._listen_task = None
        client._heartbeat_task = None
        client.send_buffer.clear()
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 1.0)
            transport = getattr(ws, "transport", None)
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.abort()
        if tasks:
            # Bounded: a library task that swallowed its cancellation must not hold up the
            # board's shutdown (seen once: a board closed mid-join never exited).
            _done, pending = await asyncio.wait(tasks, timeout=CLOSE_WAIT_S)
            if pending:
                log.warning("realtime: %d task(s) did not stop on close", len(pending))
