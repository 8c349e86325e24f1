"""RealtimeService: the `/realtime/v1` endpoints of the kitchen server (the WebSocket
and REST broadcast), and what they share: the topics, postgres_changes fed by logical
replication, and the checks of tokens and private channels."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from caterking_server.catalog import Catalog
from caterking_server.gateway import BodyTooLarge, read_capped
from caterking_server.realtime.authorization import Access
from caterking_server.realtime.broadcast import Hub
from caterking_server.realtime.db_broadcast import (
    MESSAGES_PUBLICATION,
    DatabaseBroadcasts,
    ensure_publication,
    prune_messages,
)
from caterking_server.realtime.limits import Limits
from caterking_server.realtime.pgoutput import Change
from caterking_server.realtime.postgres_changes.feed import ChangeFeed
from caterking_server.realtime.presence import Presence
from caterking_server.realtime.replication import PUBLICATION, ReplicationStream
from caterking_server.realtime.serializers import V1, V2, Message, loads
from caterking_server.realtime.socket import Connection
from caterking_server.tokens import TokenError

log = logging.getLogger(__name__)


async def _configure(conn: Any) -> None:
    await conn.set_autocommit(True)


class RealtimeService:
    def __init__(
        self,
        db_dsn: str,
        jwt_secret: str,
        pool: AsyncConnectionPool[Any] | None = None,
        *,
        message_retention_s: float = 3600.0,
        prune_every_s: float = 60.0,
        **limits: Any,
    ) -> None:
        """`limits`: any field of `Limits` (max_channels=…, heartbeat_timeout_s=…).
        `message_retention_s`: rows of realtime.messages older than this are deleted every
        `prune_every_s` (0: kept; docs/kitchen-server.md, "Retention")."""
        self.db_dsn = db_dsn
        self.jwt_secret = jwt_secret
        self._given_pool = pool
        self.limits = Limits(**limits)
        self.message_retention_s = message_retention_s
        self.prune_every_s = prune_every_s
        self.hub = Hub()
        self.db_broadcasts = DatabaseBroadcasts(
            self.hub, max_payload_bytes=self.limits.max_message_bytes
        )
        self._pruner: asyncio.Task[None] | None = None
        self.presence = Presence(self.hub)
        self.connections: set[Connection] = set()
        self._rls_pool: AsyncConnectionPool[Any] | None = None
        self._auth_pool: AsyncConnectionPool[Any] | None = None
        self._access: Access | None = None
        self._changes: ChangeFeed | None = None
        self._reader: ReplicationStream | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._rls_pool = AsyncConnectionPool(
            self.db_dsn, min_size=1, max_size=4, configure=_configure, open=False
        )
        await self._rls_pool.open(wait=True)
        if self._given_pool is not None:
            self._auth_pool = self._given_pool
        else:
            self._auth_pool = AsyncConnectionPool(self.db_dsn, min_size=1, max_size=4, open=False)
            await self._auth_pool.open(wait=True)
        self._access = Access(self.jwt_secret, self._auth_pool)
        self._changes = ChangeFeed(
            Catalog(self._rls_pool), self.db_dsn, max_record_bytes=self.limits.max_record_bytes
        )
        publications: tuple[str, ...] = (PUBLICATION,)
        async with self._rls_pool.connection() as conn:
            if await ensure_publication(conn):
                publications += (MESSAGES_PUBLICATION,)
            else:
                log.warning("no realtime.messages: Broadcast from the database is off")
        self._reader = ReplicationStream(
            self.db_dsn,
            self._on_changes,
            on_relation=self._changes.relation_changed,
            publications=publications,
        )
        await self._reader.start()
        if self.message_retention_s > 0 and len(publications) > 1:
            self._pruner = asyncio.create_task(self._prune_forever(), name="realtime-prune")

    async def _on_changes(self, changes: list[Change]) -> None:
        """A batch from the replication stream: broadcasts from the database are relayed
        first (nothing to check per subscriber), then postgres_changes are dispatched."""
        rest = self.db_broadcasts.split(changes)
        if rest and self._changes is not None:
            await self._changes.dispatch(rest)

    async def prune_messages(self) -> int:
        """Delete rows of realtime.messages older than the retention; how many went."""
        assert self._rls_pool is not None, "RealtimeService not started"
        async with self._rls_pool.connection() as conn:
            return await prune_messages(conn, self.message_retention_s)

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(self.prune_every_s)  # not at start: let the server come up
            try:
                removed = await self.prune_messages()
                if removed:
                    log.info("realtime.messages: %d rows past the retention deleted", removed)
            except Exception as exc:  # a restart of Postgres, a lock: try again later
                log.warning("realtime.messages: pruning failed: %s", exc)

    async def stop(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            # A prune cut short in its statement ends with the pool, below.
            await asyncio.wait([self._pruner], timeout=5)
            self._pruner = None
        for conn in list(self.connections):
            await conn.shutdown()
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None
        if self._changes is not None:
            await self._changes.close()
        if self._rls_pool is not None:
            await self._rls_pool.close()
            self._rls_pool = None
        if self._auth_pool is not None and self._auth_pool is not self._given_pool:
            await self._auth_pool.close()
        self._auth_pool = None

    @property
    def access(self) -> Access:
        assert self._access is not None, "RealtimeService not started"
        return self._access

    @property
    def changes(self) -> ChangeFeed:
        assert self._changes is not None, "RealtimeService not started"
        return self._changes

    @property
    def slot_name(self) -> str:
        return self._reader.slot if self._reader is not None else ""

    @property
    def replication(self) -> ReplicationStream:
        assert self._reader is not None, "RealtimeService not started"
        return self._reader

    def stats(self) -> dict[str, int]:
        """Sizes of the internal registries (leak tests)."""
        return {
            "connections": len(self.connections),
            "channels": sum(len(c.channels) for c in self.connections),
            "topics": len(self.hub),
            "presences": len(self.presence),
            "subscriptions": len(self._changes) if self._changes is not None else 0,
        }

    # --- HTTP ---------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/realtime/v1/websocket", self.websocket)
        app.router.add_post("/realtime/v1/api/broadcast", self.http_broadcast_batch)
        app.router.add_post(
            "/realtime/v1/api/broadcast/{topic}/events/{event}", self.http_broadcast
        )

    @staticmethod
    def _apikey(request: web.Request) -> str | None:
        return (
            request.query.get("apikey")
            or request.headers.get("apikey")
            or request.headers.get("x-api-key")
        )

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        apikey = self._apikey(request)
        try:
            self.access.claims(apikey)
        except TokenError as exc:
            return web.json_response({"error": exc.message}, status=401)
        vsn = V2 if request.query.get("vsn") == V2 else V1
        ws = web.WebSocketResponse(
            heartbeat=max(self.limits.heartbeat_timeout_s / 3, 0.2),
            max_msg_size=self.limits.max_frame_bytes,
            autoping=True,
            compress=False,  # as Phoenix: no permessage-deflate (CPU per frame per socket)
        )
        await ws.prepare(request)
        assert apikey is not None
        conn = Connection(
            ws,
            vsn,
            apikey,
            limits=self.limits,
            access=self.access,
            hub=self.hub,
            presence=self.presence,
            changes=self.changes,
            transport=request.transport,
            peer=request.remote or "?",
        )
        self.connections.add(conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)
        return ws

    def _http_claims(self, request: web.Request) -> dict[str, Any]:
        """The caller's claims (bearer, else apikey); TokenError if refused."""
        token = self._apikey(request)
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:]
        return self.access.claims(token)

    async def _may_write(self, topic: str, private: bool, claims: dict[str, Any]) -> bool:
        if not private:
            return True
        pol = await self.access.policies(topic, str(claims.get("role")), claims)
        return bool(pol.write)

    def _send(self, topic: str, event: str, payload_json: str, private: bool) -> None:
        msg = Message(f"realtime:{topic}", "broadcast", None)
        msg.payload_json = (
            f'{{"type":"broadcast","event":{json.dumps(event)},"payload":{payload_json}}}'
        )
        self.hub.broadcast((private, msg.topic), msg, None)

    def _too_large(self, what: str, size: int, most: int) -> web.Response:
        return web.json_response(
            {"error": "Payload too large", "message": f"{what} is {size} bytes; at most {most}"},
            status=413,
        )

    async def _body(self, request: web.Request) -> bytes | web.Response:
        """The request body, or 413 when it is over the limit (not read past it)."""
        try:
            return await read_capped(request, self.limits.max_http_body_bytes)
        except BodyTooLarge as exc:
            return self._too_large("the request body", exc.size, self.limits.max_http_body_bytes)

    def _payload_json(self, payload: Any) -> str | web.Response:
        try:
            text = json.dumps(payload, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError):
            return web.json_response({"error": "payload must be JSON"}, status=400)
        most = self.limits.max_message_bytes
        if len(text) > most:
            return self._too_large("a message payload", len(text), most)
        return text

    async def http_broadcast(self, request: web.Request) -> web.Response:
        """realtime-py's `http_send`: one message, topic and event in the path."""
        try:
            claims = self._http_claims(request)
        except TokenError as exc:
            return web.json_response({"error": exc.message}, status=401)
        if request.content_type == "application/octet-stream":
            return web.json_response({"error": "binary payloads are not supported"}, status=415)
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        try:
            payload = loads(body) if body else {}
        except ValueError:
            return web.json_response({"error": "payload must be JSON"}, status=400)
        payload_json = self._payload_json(payload)
        if isinstance(payload_json, web.Response):
            return payload_json
        topic, event = request.match_info["topic"], request.match_info["event"]
        private = request.query.get("private") == "true"
        if not await self._may_write(topic, private, claims):
            return web.json_response({"error": "Unauthorized"}, status=401)
        self._send(topic, event, payload_json, private)
        return web.Response(status=202)

    async def http_broadcast_batch(self, request: web.Request) -> web.Response:
        """Supabase's documented REST broadcast: `{"messages": [{topic, event, payload,
        private}]}` → 202. Every message is checked before any is sent."""
        try:
            claims = self._http_claims(request)
        except TokenError as exc:
            return web.json_response({"error": exc.message}, status=401)
        raw = await self._body(request)
        if isinstance(raw, web.Response):
            return raw
        try:
            body = loads(raw or b"null")
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not messages:
            return web.json_response(
                {"error": "messages: a non-empty list is required"}, status=400
            )
        checked = []
        for m in messages:
            if not (
                isinstance(m, dict)
                and isinstance(m.get("topic"), str)
                and m["topic"]
                and isinstance(m.get("event"), str)
                and isinstance(m.get("payload", {}), dict)
            ):
                return web.json_response(
                    {"error": "each message needs topic, event and an object payload"},
                    status=400,
                )
            private = m.get("private") in (True, "true")
            payload_json = self._payload_json(m.get("payload", {}))
            if isinstance(payload_json, web.Response):
                return payload_json
            if not await self._may_write(m["topic"], private, claims):
                return web.json_response({"error": "Unauthorized"}, status=401)
            checked.append((m["topic"], m["event"], payload_json, private))
        for topic, event, payload, private in checked:
            self._send(topic, event, payload, private)
        return web.Response(status=202)
