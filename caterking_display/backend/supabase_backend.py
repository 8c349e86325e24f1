"""The Supabase adapter: Auth and PostgREST over httpx, Realtime through realtime-py.

This module and ``realtime_link`` are the only code that knows Supabase client APIs
(docs/architecture.md). REST and Auth go through one pooled ``httpx.AsyncClient`` because the
sync layer needs what postgrest-py hides: the HTTP status (401 vs 4xx vs 5xx decides
retry, refresh or reject) and the ``Date`` header (device clock skew).
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from caterking_display.backend.types import (
    AuthExpired,
    AuthRejected,
    BoardSnapshot,
    FeedUnavailable,
    Link,
    LinkHandlers,
    RpcResult,
    ServerRefused,
    Session,
    TransportError,
)
from caterking_display.domain.actions import Action, Outcome
from caterking_display.domain.board import BOARD_HISTORY
from caterking_display.domain.sync_status import Feed

log = logging.getLogger(__name__)

PAGE_ROWS = 1000  # hosted Supabase's default max rows per request


def _now_unix() -> float:
    return time.time()


class SupabaseBackend:
    """Talks to one Supabase project (hosted or ``caterking-server serve``).

    ``url`` is the project URL (``http://127.0.0.1:54321``), ``anon_key`` its anon key.
    After ``sign_in``/``refresh`` (or ``set_session``) REST calls carry the user's token.
    """

    def __init__(
        self,
        url: str,
        anon_key: str,
        *,
        timeout: float = 10.0,
        board_history: timedelta = BOARD_HISTORY,
    ) -> None:
        """``board_history``: finished tasks changed longer ago than this are not fetched."""
        self.url = url.rstrip("/")
        self.board_history = board_history
        self.anon_key = anon_key
        self._session: Session | None = None
        self._skew: timedelta | None = None
        # False once the server showed its action RPCs lack p_acted_at (a project whose
        # schema predates migration 0003): then actions go without it.
        self._sends_acted_at = True
        self._http = httpx.AsyncClient(
            base_url=self.url,
            timeout=timeout,
            headers={"apikey": anon_key, "X-Client-Info": "caterking-display"},
            limits=httpx.Limits(max_keepalive_connections=4, keepalive_expiry=15.0),
        )

    # --- session -----------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        return self._session

    def set_session(self, session: Session | None) -> None:
        self._session = session

    @property
    def clock_skew(self) -> timedelta | None:
        return self._skew

    def _bearer(self) -> str:
        return self._session.access_token if self._session else self.anon_key

    def _note_date(self, resp: httpx.Response, sent_at: float) -> datetime | None:
        raw = resp.headers.get("date")
        if not raw:
            return None
        try:
            server = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if server.tzinfo is None:
            server = server.replace(tzinfo=UTC)
        mid = (sent_at + _now_unix()) / 2
        # Date has 1 s resolution (truncated): its true value is on average +0.5 s.
        device = datetime.fromtimestamp(mid, UTC)
        self._skew = server + timedelta(seconds=0.5) - device
        return server

    async def _request(
        self,
        method: str,
        path: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        **kw: Any,
    ) -> tuple[httpx.Response, datetime | None]:
        sent = _now_unix()
        try:
            resp = await self._http.request(
                method,
                path,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                **kw,
            )
        except httpx.ConnectTimeout as exc:
            raise TransportError("timed out connecting", sent=False) from exc
        except httpx.ConnectError as exc:
            # No connection was made: the request never reached the server.
            raise TransportError(
                f"cannot connect: {exc or type(exc).__name__}", sent=False
            ) from exc
        except httpx.TimeoutException as exc:
            raise TransportError(f"timed out ({type(exc).__name__})") from exc
        except (httpx.HTTPError, OSError) as exc:
            raise TransportError(f"network error: {exc or type(exc).__name__}") from exc
        return resp, self._note_date(resp, sent)

    # --- auth ----------------------------------------------------------------------

    async def sign_in(self, email: str, password: str) -> Session:
        return await self._token("password", {"email": email, "password": password})

    async def refresh(self, refresh_token: str) -> Session:
        return await self._token("refresh_token", {"refresh_token": refresh_token})

    async def _token(self, grant: str, body: dict[str, Any]) -> Session:
        resp, _ = await self._request(
            "POST",
            "/auth/v1/token",
            params={"grant_type": grant},
            json=body,
            headers={
                "Authorization": f"Bearer {self.anon_key}",
                "X-Supabase-Api-Version": "2024-01-01",
            },
        )
        data = _json(resp)
        refusal = resp.status_code in (400, 401, 403, 422) and isinstance(data, dict)
        if resp.status_code != 200 and not refusal:
            # Gateway errors, rate limits, a captive portal's page: not a verdict on the
            # device's credentials, so never "Sign-in failed".
            raise TransportError(f"auth server: HTTP {resp.status_code}")
        if resp.status_code != 200:
            code = None
            msg = None
            if isinstance(data, dict):
                code = data.get("error_code") or data.get("code")
                if not isinstance(code, str):
                    code = data.get("error") if isinstance(data.get("error"), str) else None
                msg = data.get("message") or data.get("msg") or data.get("error_description")
            # The server's own words, for the log; the UI words it from ``code``.
            text = str(msg) if msg else f"sign-in refused ({resp.status_code})"
            raise AuthRejected(text, code)
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise TransportError("auth reply without a session")
        user = data.get("user") or {}
        expires_in = float(data.get("expires_in") or 3600)
        expires_at = float(data.get("expires_at") or (_now_unix() + expires_in))
        session = Session(
            access_token=data["access_token"],
            refresh_token=str(data.get("refresh_token") or ""),
            expires_at=expires_at,
            user_id=str(user.get("id") or ""),
            app_metadata=dict(user.get("app_metadata") or {}),
            expires_in=expires_in,
            email=user["email"] if isinstance(user.get("email"), str) else None,
        )
        self._session = session
        return session

    # --- REST ----------------------------------------------------------------------

    def _rest_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._bearer()}",
            "Accept-Profile": "public",
            "Content-Profile": "public",
            "Accept": "application/json",
        }

    def _check(self, resp: httpx.Response, what: str) -> Any:
        """The reply's JSON, or the error that says what to do about it.

        Only PostgREST itself refuses: a 4xx with its JSON error body. Anything else that
        is not a success (gateway errors, rate limits, a captive portal's HTML page, a
        redirect) is a transport problem, to be retried with the same op id.
        """
        data = _json(resp)
        status = resp.status_code
        if status < 300:
            return data
        code = data.get("code") if isinstance(data, dict) else None
        message = data.get("message") if isinstance(data, dict) else None
        if status == 401 or code in ("PGRST301", "PGRST303"):
            raise AuthExpired(f"{what}: {message or 'token refused'}")
        postgrest_error = isinstance(code, str) and isinstance(message, str)
        if 400 <= status < 500 and status not in (408, 429) and postgrest_error:
            raise ServerRefused(f"{what}: {message}", status, str(code))
        # A 500 with PostgREST's body is the database raising: the server answered.
        answered = status == 500 and postgrest_error
        raise TransportError(f"{what}: HTTP {status} {message or ''}".strip(), answered=answered)

    async def call_action(
        self,
        action: Action,
        task_id: str,
        staff_id: str,
        op_id: str,
        device: str,
        timeout: float,  # noqa: ASYNC109
        acted_at: datetime | None = None,
    ) -> RpcResult:
        rpc = Action(action).rpc
        args: dict[str, Any] = {
            "p_task_id": task_id,
            "p_staff_id": staff_id,
            "p_op_id": op_id,
            "p_device": device,
        }
        if acted_at is not None and acted_at.utcoffset() is None:
            # Never block a chef's action on a malformed time: let the server stamp it.
            log.warning("%s: acted-at time without a time zone (%r), not sent", rpc, acted_at)
            acted_at = None
        if acted_at is None or not self._sends_acted_at:
            return await self._call_rpc(rpc, args, timeout)
        try:
            return await self._call_rpc(rpc, {**args, "p_acted_at": iso_time(acted_at)}, timeout)
        except ServerRefused as exc:
            if not _lacks_function(exc):
                raise
        # No function with that argument: the schema is older than the app. The call
        # was not run (same op id, so retrying is safe); the chef's action must not be
        # refused for it, so send it as the old schema wants. If that works, remember.
        result = await self._call_rpc(rpc, args, timeout)
        if self._sends_acted_at:
            log.warning(
                "the server's %s has no p_acted_at (schema before 0003): actions are sent "
                "without the time the chef acted until the app restarts",
                rpc,
            )
        self._sends_acted_at = False
        return result

    @property
    def sends_acted_at(self) -> bool:
        """False once the server showed it lacks ``p_acted_at``."""
        return self._sends_acted_at

    async def _call_rpc(
        self,
        rpc: str,
        args: dict[str, Any],
        timeout: float,  # noqa: ASYNC109
    ) -> RpcResult:
        resp, _ = await self._request(
            "POST",
            f"/rest/v1/rpc/{rpc}",
            json=args,
            headers=self._rest_headers(),
            timeout=timeout,
        )
        data = self._check(resp, rpc)
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict):
            raise TransportError(f"{rpc}: unexpected reply {data!r:.100}", answered=True)
        try:
            outcome = Outcome(str(data.get("outcome")))
        except ValueError as exc:
            raise TransportError(f"unknown outcome {data.get('outcome')!r}", answered=True) from exc
        task = data.get("task")
        reason = data.get("reason")
        return RpcResult(
            outcome=outcome,
            task_row=task if isinstance(task, dict) else None,
            reason=reason if isinstance(reason, str) else None,
        )

    async def fetch_board(self, kitchen_id: str, timeout: float = 10.0) -> BoardSnapshot:  # noqa: ASYNC109
        h = self._rest_headers()
        # What the board shows: open tasks, and tasks finished or changed recently (so a
        # kitchen's long history never hits a project's max-rows cap). Paged all the same.
        since = (datetime.now(UTC) + (self.clock_skew or timedelta(0))) - self.board_history
        since_text = since.replace(microsecond=0).isoformat()
        params = {
            "select": "*",
            "kitchen_id": f"eq.{kitchen_id}",
            "or": f'(status.in.(pending,claimed),updated_at.gte."{since_text}")',
            "order": "id.asc",
            "limit": str(PAGE_ROWS),
        }
        tasks: list[Any] = []
        date = None
        while True:
            resp, page_date = await self._request(
                "GET",
                "/rest/v1/tasks",
                params={**params, "offset": str(len(tasks))},
                headers=h,
                timeout=timeout,
            )
            date = date or page_date
            page = self._check(resp, "tasks")
            if not isinstance(page, list):
                raise TransportError("board fetch: unexpected reply shape")
            tasks += page
            if len(page) < PAGE_ROWS:
                break
        resp, _ = await self._request(
            "GET",
            "/rest/v1/staff",
            params={"select": "*", "kitchen_id": f"eq.{kitchen_id}", "order": "id.asc"},
            headers=h,
            timeout=timeout,
        )
        staff = self._check(resp, "staff")
        resp, _ = await self._request(
            "GET",
            "/rest/v1/kitchens",
            params={"select": "*", "id": f"eq.{kitchen_id}"},
            headers=h,
            timeout=timeout,
        )
        kitchens = self._check(resp, "kitchens")
        if not isinstance(tasks, list) or not isinstance(staff, list):
            raise TransportError("board fetch: unexpected reply shape")
        kitchen = kitchens[0] if isinstance(kitchens, list) and kitchens else None
        estimates = await self._fetch_estimates(h, timeout)
        return BoardSnapshot(
            tasks=[t for t in tasks if isinstance(t, dict)],
            staff=[s for s in staff if isinstance(s, dict)],
            kitchen=kitchen if isinstance(kitchen, dict) else None,
            server_date=date,
            estimates=estimates,
        )

    async def _fetch_estimates(
        self,
        headers: dict[str, str],
        timeout: float,  # noqa: ASYNC109
    ) -> list[dict[str, Any]] | None:
        """The tenant's learned estimates (row-level security scopes them), paged. A
        server without them (an older schema) refuses: the board then has none."""
        rows: list[Any] = []
        while True:
            resp, _ = await self._request(
                "GET",
                "/rest/v1/prep_estimates",
                params={
                    "select": "*",
                    "order": "task_key.asc,station.asc",
                    "limit": str(PAGE_ROWS),
                    "offset": str(len(rows)),
                },
                headers=headers,
                timeout=timeout,
            )
            try:
                page = self._check(resp, "prep_estimates")
            except ServerRefused as exc:
                log.info("board fetch: no learned estimates from this server (%s)", exc)
                return None
            if not isinstance(page, list):
                raise TransportError("estimates fetch: unexpected reply shape")
            rows += page
            if len(page) < PAGE_ROWS:
                return [r for r in rows if isinstance(r, dict)]

    # --- realtime ------------------------------------------------------------------

    async def connect_channel(
        self,
        kitchen_id: str,
        access_token: str,
        device: str,
        handlers: LinkHandlers,
        *,
        heartbeat_interval: float,
        timeout: float,  # noqa: ASYNC109
        tenant_id: str | None = None,
        feed: Feed = Feed.POSTGRES_CHANGES,
    ) -> Link:
        from caterking_display.backend.realtime_link import RealtimeLink

        return await RealtimeLink.open(
            self.url,
            self.anon_key,
            kitchen_id=kitchen_id,
            tenant_id=tenant_id,
            access_token=access_token,
            device=device,
            handlers=handlers,
            heartbeat_interval=heartbeat_interval,
            timeout=timeout,
            feed=feed,
        )

    async def feed_probe(self, nonce: str, timeout: float) -> None:  # noqa: ASYNC109
        resp, _ = await self._request(
            "POST",
            "/rest/v1/rpc/feed_probe",
            json={"p_nonce": nonce},
            headers=self._rest_headers(),
            timeout=timeout,
        )
        try:
            self._check(resp, "feed_probe")
        except ServerRefused as exc:
            if _lacks_function(exc):
                raise FeedUnavailable("the database has no feed_probe (before 0007)") from exc
            raise

    async def aclose(self) -> None:
        await self._http.aclose()


def iso_time(value: datetime) -> str:
    """An aware time as ISO 8601 with its offset, in UTC (``2026-11-25T16:41:07.5+00:00``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"a time without a time zone: {value!r}")
    return value.astimezone(UTC).isoformat()


def _lacks_function(exc: ServerRefused) -> bool:
    """PostgREST found no function with these argument names (PGRST202, 404)."""
    return exc.status == 404 and exc.code == "PGRST202"


def _json(resp: httpx.Response) -> Any:
    if not resp.content:
        return None
    try:
        return json.loads(resp.content)
    except ValueError:
        return None
