"""The device's session: sign in, refresh before expiry, sign in again if refresh fails.

Refresh is scheduled on the monotonic clock from the token's issued lifetime
(``expires_in``), so a wrong device clock cannot make it late.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from caterking_display.backend.types import AuthRejected, Backend, Session, TransportError
from caterking_display.domain.clock import Clock
from caterking_display.domain.sync_status import ErrorKind
from caterking_display.sync.settings import SyncSettings

log = logging.getLogger(__name__)

TokenListener = Callable[[str], Awaitable[None]]


class AuthFailed(Exception):
    """The device cannot sign in: the server refused its credentials (``code`` is the
    server's machine word, e.g. ``invalid_credentials``), or the account cannot be used
    (``kind`` NO_KITCHEN). ``str(exc)`` is the technical detail, for the log."""

    def __init__(
        self, detail: str, *, code: str | None = None, kind: ErrorKind = ErrorKind.SIGN_IN
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.kind = kind


class DeviceAuth:
    def __init__(
        self,
        backend: Backend,
        clock: Clock,
        settings: SyncSettings,
        *,
        on_session: Callable[[], None] = lambda: None,
    ) -> None:
        self._backend = backend
        self.on_session = on_session  # after every sign-in or refresh that succeeded
        self._clock = clock
        self._settings = settings
        self._session: Session | None = None
        self._got_at = 0.0
        self._lifetime = 0.0
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()

    @property
    def session(self) -> Session | None:
        return self._session

    def _take(self, session: Session) -> Session:
        self._session = session
        self._got_at = self._clock.monotonic()
        # The lifetime is the shorter of the issued ``expires_in`` and what ``expires_at``
        # leaves (exp is whole seconds, so a token can live up to 1 s less than issued;
        # a device clock running ahead only makes us refresh earlier).
        # Judge expires_at by the server's clock (the measured skew), and never trust it
        # to shorten the lifetime by more than the second that whole-second exp can cost:
        # a device clock that is off must not cause a refresh storm.
        skew = self._backend.clock_skew
        left = session.expires_at - (time.time() + (skew.total_seconds() if skew else 0.0))
        floor = max(0.5, session.expires_in - 1.0)
        self._lifetime = max(floor, min(session.expires_in, left))
        self._backend.set_session(session)
        self._changed.set()
        try:
            self.on_session()
        except Exception:
            log.exception("sync: session listener failed")
        return session

    async def ensure(self) -> Session:
        """The current session, signing in if there is none.

        Raises AuthFailed (credentials refused) or TransportError."""
        async with self._lock:
            if self._session is not None:
                return self._session
            return await self._sign_in()

    async def _sign_in(self) -> Session:
        try:
            session = await self._backend.sign_in(self._settings.email, self._settings.password)
        except AuthRejected as exc:
            self._session = None
            self._backend.set_session(None)
            raise AuthFailed(str(exc), code=exc.code) from exc
        log.info("sync: signed in (token valid %.0f s)", session.expires_in)
        return self._take(session)

    async def renew(self, stale_token: str | None = None) -> Session:
        """Refresh now (or sign in again if refresh is refused).

        With ``stale_token``, skip if the session already moved past that token (another
        caller refreshed meanwhile). Raises AuthFailed or TransportError."""
        async with self._lock:
            cur = self._session
            if cur is not None and stale_token is not None and cur.access_token != stale_token:
                return cur
            if cur is None or not cur.refresh_token:
                return await self._sign_in()
            try:
                session = await self._backend.refresh(cur.refresh_token)
            except AuthRejected as exc:
                log.warning("sync: token refresh refused (%s); signing in again", exc)
                return await self._sign_in()
            log.debug("sync: token refreshed")
            return self._take(session)

    def refresh_in(self) -> float:
        """Seconds until the current session should be refreshed."""
        s = self._session
        if s is None:
            return 0.0
        due = self._got_at + self._lifetime * self._settings.refresh_fraction
        return max(0.0, due - self._clock.monotonic())

    async def run_refresher(
        self,
        on_token: TokenListener,
        on_failed: Callable[[AuthFailed], None],
    ) -> None:
        """Forever: refresh at ``refresh_fraction`` of each token's lifetime and hand the new
        token to ``on_token`` (the realtime link). Never raises (except cancellation)."""
        while True:
            if self._session is None:
                self._changed.clear()
                await self._changed.wait()
                continue
            delay = self.refresh_in()
            if delay > 0:
                self._changed.clear()
                try:
                    await asyncio.wait_for(self._changed.wait(), delay)
                    continue  # a new session arrived meanwhile: reschedule
                except TimeoutError:
                    pass
            token = self._session.access_token if self._session else None
            try:
                session = await self.renew(token)
            except TransportError as exc:
                log.warning("sync: token refresh failed (%s); retrying soon", exc)
                await asyncio.sleep(min(5.0, max(0.5, self._settings.heartbeat_interval)))
                continue
            except AuthFailed as exc:
                on_failed(exc)
                await asyncio.sleep(self._settings.auth_retry_seconds)
                continue
            try:
                await on_token(session.access_token)
            except Exception:
                log.exception("sync: pushing the new token failed")
