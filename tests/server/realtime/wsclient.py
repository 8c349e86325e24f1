"""A hand-written Phoenix client (aiohttp) for input the official clients never send."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp


class RawClient:
    def __init__(
        self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse, vsn: str
    ):
        self.session = session
        self.ws = ws
        self.vsn = vsn
        self.ref = 0

    @classmethod
    async def connect(
        cls, base: str, apikey: str, vsn: str = "1.0.0", **ws_kwargs: Any
    ) -> RawClient:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(
                f"{base}/websocket", params={"apikey": apikey, "vsn": vsn}, **ws_kwargs
            )
        except BaseException:
            await session.close()
            raise
        return cls(session, ws, vsn)

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()

    def next_ref(self) -> str:
        self.ref += 1
        return str(self.ref)

    async def push(
        self, topic: str, event: str, payload: Any, *, join_ref: str | None = None
    ) -> str:
        ref = self.next_ref()
        if self.vsn == "2.0.0":
            await self.ws.send_str(json.dumps([join_ref, ref, topic, event, payload]))
        else:
            await self.ws.send_str(
                json.dumps(
                    {
                        "topic": topic,
                        "event": event,
                        "payload": payload,
                        "ref": ref,
                        "join_ref": join_ref,
                    }
                )
            )
        return ref

    async def join(
        self, topic: str, config: dict[str, Any] | None = None, token: str | None = None
    ) -> str:
        payload: dict[str, Any] = {"config": config or {}}
        if token:
            payload["access_token"] = token
        ref = self.next_ref()
        msg = {"topic": topic, "event": "phx_join", "payload": payload, "ref": ref, "join_ref": ref}
        if self.vsn == "2.0.0":
            await self.ws.send_str(json.dumps([ref, ref, topic, "phx_join", payload]))
        else:
            await self.ws.send_str(json.dumps(msg))
        return ref

    async def recv(self, limit: float = 5.0) -> Any:
        """The next frame: a dict (v1), a list (v2 text), or bytes (v2 binary)."""
        msg = await self.ws.receive(timeout=limit)
        if msg.type == aiohttp.WSMsgType.TEXT:
            return json.loads(msg.data)
        if msg.type == aiohttp.WSMsgType.BINARY:
            return msg.data
        return msg

    async def recv_until(self, pred: Any, limit: float = 5.0) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError("no matching frame")
            frame = await self.recv(left)
            if isinstance(frame, aiohttp.WSMessage):
                raise AssertionError(f"socket ended: {frame}")
            if pred(frame):
                return frame
