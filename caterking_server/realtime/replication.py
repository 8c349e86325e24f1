"""Logical replication of publication `supabase_realtime` through the built-in `pgoutput`
plugin, streamed with START_REPLICATION over libpq's COPY BOTH protocol (psycopg's `pq`
binding). This module is the I/O: the slot, the connection, feedback, reconnects; the
bytes are decoded by `caterking_server.realtime.pgoutput`.

Slot policy: one slot per database (`caterking_rt_<database>`). A slot left by a crash is
dropped and recreated on start (its changes had no subscribers anyway; a walsender still
holding it is terminated first), and `stop()` drops it, so the slot never pins WAL after
the server is gone. While running, feedback confirms dispatched commits so WAL is freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import conninfo, pq

from caterking_server.realtime.pgoutput import (
    PG_EPOCH,
    Change,
    Keepalive,
    PgOutputDecoder,
    Relation,
    XLogData,
    parse_copy_data,
    standby_status_update,
)

if TYPE_CHECKING:
    from psycopg.pq.abc import PGconn

log = logging.getLogger(__name__)

PUBLICATION = "supabase_realtime"


def slot_name_for(dbname: str) -> str:
    clean = re.sub(r"[^a-z0-9_]", "_", dbname.lower())
    name = f"caterking_rt_{clean}"
    if len(name) > 63 or clean != dbname:
        name = f"caterking_rt_{clean[:30]}_{hashlib.sha1(dbname.encode()).hexdigest()[:10]}"
    return name


# --- the replication stream -------------------------------------------------------------


@dataclass(slots=True)
class Transaction:
    changes: list[Change]
    end_lsn: int


async def _wait_fd(fd: int, *, write: bool = False) -> None:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not fut.done():
            fut.set_result(None)

    if write:
        loop.add_writer(fd, ready)
    else:
        loop.add_reader(fd, ready)
    try:
        await fut
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


def _now_pg() -> int:
    """Microseconds since 2000-01-01 UTC (the replication protocol's clock)."""
    return int((time.time() - PG_EPOCH.timestamp()) * 1_000_000)


class ReplicationStream:
    """Streams the slot with START_REPLICATION (pgoutput) over a `replication=database`
    connection: the server pushes each transaction as it commits, the socket's reader
    callback decodes it, and one dispatcher task hands committed transactions to `sink`
    in commit order, batching whatever arrived while the previous batch was dispatched.

    Feedback (Standby Status Update) confirms the end LSN of dispatched commits when the
    server asks and every `feedback_interval_s`, so the slot releases WAL. A lost stream
    is reconnected with backoff and resumes from the slot's confirmed position;
    transactions already dispatched (at or below the last confirmed end LSN) are skipped.
    """

    def __init__(
        self,
        dsn: str,
        sink: Callable[[list[Change]], Awaitable[None]],
        *,
        on_relation: Callable[[Relation], None] | None = None,
        feedback_interval_s: float = 1.0,
        publications: tuple[str, ...] = (PUBLICATION,),
    ) -> None:
        """`publications`: what the slot streams (`supabase_realtime`, and the one of
        realtime.messages for Broadcast from the database); each must exist."""
        self.dsn = dsn
        self.sink = sink
        self.publications = publications
        self.feedback_interval_s = feedback_interval_s
        self.decoder = PgOutputDecoder(on_relation)
        self.slot = ""
        self.dispatched_lsn = 0  # end LSN of the last transaction handed to sink
        self.received_lsn = 0  # highest walEnd the server reported
        self.reconnects = 0
        self._pgconn: PGconn | None = None
        self._ready: list[Transaction] = []
        self._wake = asyncio.Event()
        self._error: str | None = None
        self._reply_requested = False
        self._task: asyncio.Task[None] | None = None
        self._last_feedback = 0.0
        self._queued_lsn = 0

    # --- slot management (plain SQL connection) ----------------------------------------

    async def _admin(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        await conn.execute("set application_name to 'caterking-realtime-admin'")
        return conn

    @staticmethod
    async def _release(conn: psycopg.AsyncConnection[Any], slot: str) -> bool:
        """Terminate whatever walsender holds `slot`; True if the slot exists."""
        for _ in range(200):
            cur = await conn.execute(
                "select active_pid from pg_replication_slots where slot_name = %s", (slot,)
            )
            row = await cur.fetchone()
            if row is None:
                return False
            if row[0] is None:
                return True
            await conn.execute("select pg_terminate_backend(%s)", (row[0],))
            await asyncio.sleep(0.01)
        raise RuntimeError(f"replication slot {slot} stays active")

    async def start(self) -> None:
        conn = await self._admin()
        try:
            row = await (await conn.execute("select current_database()")).fetchone()
            assert row is not None
            self.slot = slot_name_for(row[0])
            if await self._release(conn, self.slot):
                # Left by a crash (or held by another server on this database): its
                # changes had no subscribers here, so start afresh rather than pin WAL.
                log.info("dropping stale replication slot %s", self.slot)
                await conn.execute("select pg_drop_replication_slot(%s)", (self.slot,))
            await conn.execute(
                "select pg_create_logical_replication_slot(%s, 'pgoutput')", (self.slot,)
            )
        finally:
            await conn.close()
        # Changes committed from here on are in the slot; subscribers registered later
        # get every change committed after they registered.
        await self._connect()
        self._task = asyncio.create_task(self._run(), name="realtime-replication")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._disconnect()
        if not self.slot:
            return
        try:
            conn = await self._admin()
        except psycopg.Error as exc:
            log.warning("could not drop replication slot %s: %s", self.slot, exc)
            return
        try:
            if await self._release(conn, self.slot):
                await conn.execute("select pg_drop_replication_slot(%s)", (self.slot,))
        except (psycopg.Error, RuntimeError) as exc:
            log.warning("could not drop replication slot %s: %s", self.slot, exc)
        finally:
            await conn.close()

    # --- the streaming connection ------------------------------------------------------

    async def _connect(self) -> None:
        info = conninfo.make_conninfo(
            self.dsn, replication="database", application_name="caterking-realtime"
        )
        pgconn = await asyncio.to_thread(pq.PGconn.connect, info.encode())
        if pgconn.status != pq.ConnStatus.OK:
            msg = pgconn.error_message.decode(errors="replace").strip()
            pgconn.finish()
            raise psycopg.OperationalError(f"replication connection failed: {msg}")
        try:
            pgconn.nonblocking = 1
            query = (
                f"START_REPLICATION SLOT {self.slot} LOGICAL 0/0 "
                f"(proto_version '1', publication_names '{','.join(self.publications)}')"
            )
            pgconn.send_query(query.encode())
            while pgconn.flush():
                await _wait_fd(pgconn.socket, write=True)
            while True:
                pgconn.consume_input()
                if not pgconn.is_busy():
                    break
                await _wait_fd(pgconn.socket)
            res = pgconn.get_result()
            if res is None or res.status != pq.ExecStatus.COPY_BOTH:
                msg = (res.error_message if res is not None else b"no result").decode(
                    errors="replace"
                )
                raise psycopg.OperationalError(f"START_REPLICATION failed: {msg.strip()}")
        except BaseException:
            pgconn.finish()
            raise
        self.decoder.reset()
        self._error = None
        self._pgconn = pgconn
        asyncio.get_running_loop().add_reader(pgconn.socket, self._on_readable)
        # Anything already buffered arrived with the COPY_BOTH response.
        self._on_readable()

    def _disconnect(self) -> None:
        pgconn, self._pgconn = self._pgconn, None
        if pgconn is None:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(pgconn.socket)
        with contextlib.suppress(Exception):
            pgconn.finish()

    def _fail(self, reason: str) -> None:
        if self._error is None:
            self._error = reason
        pgconn = self._pgconn
        if pgconn is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(pgconn.socket)
        self._wake.set()

    def _on_readable(self) -> None:
        pgconn = self._pgconn
        if pgconn is None or self._error is not None:
            return
        try:
            pgconn.consume_input()
            while True:
                n, data = pgconn.get_copy_data(1)
                if n == 0:
                    break
                if n < -1:  # the C binding raises instead; be safe either way
                    self._fail(pgconn.error_message.decode(errors="replace").strip())
                    return
                if n == -1:
                    res = pgconn.get_result()
                    msg = res.error_message.decode(errors="replace") if res else ""
                    self._fail(f"replication stream ended {msg}".strip())
                    return
                self._message(bytes(data))
        except psycopg.Error as exc:
            self._fail(str(exc))
            return
        if self._ready or self._reply_requested:
            self._wake.set()

    def _message(self, data: bytes) -> None:
        msg = parse_copy_data(data)
        if isinstance(msg, XLogData):
            self.received_lsn = max(self.received_lsn, msg.wal_end)
            done = self.decoder.feed(msg.message)
            if done is not None:
                end = self.decoder.last_end_lsn
                if end > self._queued_lsn:  # not a resend after a reconnect
                    self._queued_lsn = end
                    if done:
                        self._ready.append(Transaction(done, end))
        elif isinstance(msg, Keepalive):
            self.received_lsn = max(self.received_lsn, msg.wal_end)
            if msg.reply_requested:
                self._reply_requested = True

    @property
    def idle(self) -> bool:
        return not self._ready and not self.decoder.in_transaction

    def _confirm_lsn(self) -> int:
        # With nothing decoded-but-undispatched, everything the server sent is handled.
        if self.idle:
            return max(self.dispatched_lsn, self.received_lsn)
        return self.dispatched_lsn

    def _send_feedback(self) -> None:
        pgconn = self._pgconn
        if pgconn is None or self._error is not None:
            return
        lsn = self._confirm_lsn()
        msg = standby_status_update(lsn, _now_pg())
        try:
            if pgconn.put_copy_data(msg) == 1:
                pgconn.flush()  # a partial flush completes with the next send
                # libpq may have read stream data into its buffer while sending; the
                # socket will not signal it again, so drain the buffer now.
                asyncio.get_running_loop().call_soon(self._on_readable)
                self._last_feedback = time.monotonic()
                self._reply_requested = False
        except psycopg.Error as exc:
            self._fail(str(exc))

    # --- dispatcher and supervisor -----------------------------------------------------

    async def _dispatch_ready(self) -> None:
        while self._ready:
            batch, self._ready = self._ready, []
            changes = [ch for tx in batch for ch in tx.changes]
            try:
                await self.sink(changes)
            except Exception:
                log.exception("dispatching %d changes failed", len(changes))
            self.dispatched_lsn = max(self.dispatched_lsn, batch[-1].end_lsn)

    async def _reconnect(self) -> None:
        backoff = 0.1
        while True:
            log.warning("replication stream lost (%s); reconnecting", self._error)
            self._disconnect()
            try:
                conn = await self._admin()
                try:
                    if not await self._release(conn, self.slot):
                        log.warning("replication slot %s vanished; recreating", self.slot)
                        await conn.execute(
                            "select pg_create_logical_replication_slot(%s, 'pgoutput')",
                            (self.slot,),
                        )
                finally:
                    await conn.close()
                await self._connect()
                self.reconnects += 1
                return
            except (psycopg.Error, OSError, RuntimeError) as exc:
                self._error = str(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _run(self) -> None:
        while True:
            timeout = max(0.0, self._last_feedback + self.feedback_interval_s - time.monotonic())
            if not self._wake.is_set():
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancel that lands as the event is set, and stop() then waits forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
            self._wake.clear()
            await self._dispatch_ready()
            if self._error is not None:
                await self._reconnect()
                continue
            due = time.monotonic() - self._last_feedback >= self.feedback_interval_s
            if self._reply_requested or due:
                self._send_feedback()
