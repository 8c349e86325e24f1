"""The outbox pump: sends the store's pending ops in order through the task RPCs.

- applied / duplicate → the op is confirmed with the returned row;
- conflict → ``store.resolve_op`` drops it, the card snaps back, a notice names the holder;
- rejected → dropped, kept in the store's failed list, notice with the reason;
- no answer (network, timeout, 5xx) → kept, retried with backoff under the SAME op_id,
  so a call whose reply was lost cannot apply twice (the server answers ``duplicate``);
- an expired token → refresh (unless someone already replaced the token that request
  used) and retry at once;
- a poison op (the server keeps answering with an error) → after ``max_server_errors``
  answers it is treated as rejected, so it never blocks the queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from caterking_display.backend.types import (
    AuthExpired,
    Backend,
    RpcResult,
    ServerRefused,
    TransportError,
)
from caterking_display.domain.actions import Outcome
from caterking_display.domain.board import PendingOp
from caterking_display.domain.task import Task
from caterking_display.store import BoardStore
from caterking_display.sync.backoff import Backoff
from caterking_display.sync.settings import SyncSettings

log = logging.getLogger(__name__)


class Outbox:
    def __init__(
        self,
        store: BoardStore,
        backend: Backend,
        settings: SyncSettings,
        *,
        renew_token: Callable[[str | None], Awaitable[None]],
        ensure_session: Callable[[], Awaitable[object]] | None = None,
        current_token: Callable[[], str | None] = lambda: None,
        on_confirmed: Callable[[], None] = lambda: None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._backend = backend
        self._settings = settings
        self._renew = renew_token
        self._ensure = ensure_session
        self._token = current_token
        self._on_confirmed = on_confirmed
        self._monotonic = monotonic
        self._backoff = Backoff(settings.backoff_base, settings.backoff_cap, settings.rng)
        self._wake = asyncio.Event()
        self._retry_now = asyncio.Event()
        # op id -> (database errors so far, monotonic time of the first)
        self._server_errors: dict[str, tuple[int, float]] = {}
        self.sent = 0  # RPC calls made (tests, diagnostics)

    def kick(self) -> None:
        """Something was enqueued: pump (a backoff wait is not cut short)."""
        self._wake.set()

    def link_up(self) -> None:
        """The server is reachable again: pump now, cutting any backoff wait short."""
        self._wake.set()
        self._retry_now.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sync: outbox pump failed; will retry")
                await asyncio.sleep(1.0)
                self._wake.set()

    async def drain(self) -> None:
        """Send ops until the outbox is empty."""
        failures = 0
        while (op := self._store.next_op()) is not None:
            if self._ensure is not None:
                try:
                    await self._ensure()  # never send as anon: sign in first
                except Exception as exc:
                    failures += 1
                    log.info("sync: cannot send before signing in (%s)", exc)
                    await self._wait(failures)
                    continue
            used = self._token()  # the token this request carries
            # From here the server may apply it even if we never hear back: it can no
            # longer be withdrawn by an undo. If an undo withdrew it meanwhile, skip it.
            if not self._store.mark_sending(op.op_id):
                continue
            try:
                result = await self._send(op)
            except AuthExpired as exc:
                failures += 1
                log.info("sync: token refused while sending (%s); refreshing", exc)
                # Refused at the door: the server did not act on it.
                self._store.record_attempt(op.op_id, str(exc), reached_server=False)
                try:
                    await self._renew(used)
                except Exception as renew_exc:
                    log.info("sync: token renewal failed (%s)", renew_exc)
                    await self._wait(failures)
                    continue
                if failures > 1:
                    # Refused again with a fresh token: back off, never spin.
                    await self._wait(failures)
                continue
            except ServerRefused as exc:
                log.warning("sync: server refused %s %s: %s", op.action, op.op_id, exc)
                self._finish(op, RpcResult(Outcome.REJECTED, None, exc.code or "refused"))
                failures = 0
                continue
            except TransportError as exc:
                failures += 1
                self._store.record_attempt(op.op_id, str(exc), reached_server=exc.sent)
                if exc.answered:
                    now = self._monotonic()
                    n, first = self._server_errors.get(op.op_id, (0, now))
                    n += 1
                    self._server_errors[op.op_id] = (n, first)
                    if (
                        n >= self._settings.max_server_errors
                        and now - first >= self._settings.poison_after_seconds
                    ):
                        log.error("sync: giving up on %s after %d server errors", op.op_id, n)
                        self._finish(op, RpcResult(Outcome.REJECTED, None, "server_error"))
                        failures = 0
                        continue
                log.info("sync: sending %s failed (%s); retry %d", op.op_id, exc, failures)
                await self._wait(failures)
                continue
            failures = 0
            self._finish(op, result)

    async def _send(self, op: PendingOp) -> RpcResult:
        self.sent += 1
        # op.created_at is when the chef pressed: the store took it from the injected
        # clock, which the engine keeps on server time (measured skew).
        return await self._backend.call_action(
            op.action,
            op.task_id,
            op.staff_id,
            op.op_id,
            op.device,
            self._settings.rpc_timeout,
            acted_at=op.created_at,
        )

    def _finish(self, op: PendingOp, result: RpcResult) -> None:
        task: Task | None = None
        if result.task_row is not None:
            try:
                task = Task.from_row(result.task_row)
            except Exception as exc:  # any malformed row: resolve the op without it
                log.warning("sync: ignored a malformed task row in an RPC reply: %s", exc)
        if result.outcome is Outcome.DUPLICATE and result.reason == "already_conflict":
            # The first answer was a conflict whose reply was lost: still tell the chef.
            # The original reason word is not in the ledger; the row says who holds it.
            result = RpcResult(Outcome.CONFLICT, result.task_row, None)
        self._server_errors.pop(op.op_id, None)
        self._store.resolve_op(op.op_id, result.outcome, task, result.reason)
        self._on_confirmed()

    async def _wait(self, failures: int) -> None:
        delay = self._backoff.delay(failures)
        self._retry_now.clear()
        try:
            await asyncio.wait_for(self._retry_now.wait(), delay)
        except TimeoutError:
            pass
