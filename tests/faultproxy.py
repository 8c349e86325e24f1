"""A TCP fault proxy for sync tests: sits between clients and the local stack.

Modes (switch any time):
- ``close_all()``: drop every open connection now (as a Wi-Fi blip or server restart does);
- ``blackhole(True)``: keep connections open but silently drop every byte both ways,
  and accept new connections that never get an answer (a half-open link);
- ``latency(seconds)``: delay every chunk by this much, each direction;
- ``refuse(True)``: stop listening, so new connections are refused; with
  ``close_existing`` also drop open ones (a server that is down);
- ``heal()``: back to a clean pass-through.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._server: asyncio.Server | None = None
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._blackhole = False
        self._latency = 0.0
        self.accepted = 0
        self._ws_clients: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    async def start(self) -> FaultProxy:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", self.port, reuse_address=True
            )
        return self

    async def stop(self) -> None:
        await self._stop_listening()
        self.close_all()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- modes ---------------------------------------------------------------------

    def close_all(self) -> int:
        n = 0
        for a, b in list(self._conns):
            for w in (a, b):
                with contextlib.suppress(Exception):
                    w.transport.abort()
            n += 1
        self._conns.clear()
        return n

    def inject_ws_text(self, text: str) -> int:
        """Send a WebSocket text frame to every client whose connection was upgraded,
        as if the server had sent it. Returns how many got it."""
        data = text.encode()
        n = len(data)
        if n < 126:
            head = bytes([0x81, n])
        elif n < 65536:
            head = bytes([0x81, 126]) + n.to_bytes(2, "big")
        else:
            head = bytes([0x81, 127]) + n.to_bytes(8, "big")
        count = 0
        for w in list(self._ws_clients):
            if not w.is_closing():
                w.write(head + data)
                count += 1
        return count

    def blackhole(self, on: bool = True) -> None:
        self._blackhole = on

    def latency(self, seconds: float) -> None:
        self._latency = seconds

    async def refuse(self, on: bool = True, *, close_existing: bool = True) -> None:
        if on:
            await self._stop_listening()
            if close_existing:
                self.close_all()
        else:
            await self.start()

    async def heal(self) -> None:
        self._blackhole = False
        self._latency = 0.0
        await self.start()

    # --- internals -----------------------------------------------------------------

    async def _stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 0.5)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_w)
        self._conns.add(pair)
        t1 = asyncio.ensure_future(self._pipe(reader, up_w, pair))
        t2 = asyncio.ensure_future(self._pipe(up_r, writer, pair))
        for t in (t1, t2):
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        to_client = dst is pair[0]
        first = True
        try:
            while True:
                data = await src.read(65536)
                if not data:
                    break
                if first and to_client and data.startswith(b"HTTP/1.1 101"):
                    self._ws_clients.add(dst)
                first = False
                if self._blackhole:
                    continue
                if self._latency:
                    await asyncio.sleep(self._latency)
                if pair not in self._conns:
                    break
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._ws_clients.discard(pair[0])
            if pair in self._conns:
                self._conns.discard(pair)
                for w in pair:
                    with contextlib.suppress(Exception):
                        w.transport.abort()
