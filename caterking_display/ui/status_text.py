"""The connection banner's words, from a SyncStatus and the time (pure; no Textual).

The banner must always tell the truth in plain words (docs/architecture.md): a screen that looks
healthy while receiving nothing is the top complaint about kitchen displays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from caterking_display.domain.sync_status import ConnectionState, ErrorKind, SyncStatus


class BannerLevel(StrEnum):
    LIVE = "live"  # quiet one-line status
    WARN = "warn"  # live, but stale or clock off
    CONNECTING = "connecting"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    AUTH_FAILED = "auth-failed"


@dataclass(frozen=True, slots=True)
class BannerFacts:
    level: BannerLevel
    headline: str  # the plain word: "Live", "Offline", ...
    detail: str
    short_detail: str = ""
    """The same facts in fewer words, for when `detail` does not fit on one line."""


_CHECK_ACCOUNT = "check the device email and password (CATERKING_DEVICE_EMAIL / _PASSWORD)"

# The server's machine words for a refused sign-in, in words a kitchen manager can act on.
SIGN_IN_WORDS: dict[str, str] = {
    "invalid_credentials": "the device's email or password is wrong: " + _CHECK_ACCOUNT,
    "user_banned": "this device account is disabled: ask the Admin app to enable it",
    "email_not_confirmed": "this device account's email is not confirmed yet",
    "validation_failed": "the device's email or password is missing or malformed: "
    + _CHECK_ACCOUNT,
    "refresh_token_not_found": "the saved session is no longer valid; signing in again",
    "refresh_token_already_used": "the saved session was already used; signing in again",
    "session_not_found": "the session was ended on the server; signing in again",
    "session_expired": "the session expired; signing in again",
}


def sign_in_detail(status: SyncStatus) -> str:
    """What to fix after a failed sign-in (the headline already says "Sign-in failed")."""
    if status.error_kind is ErrorKind.NO_KITCHEN:
        return "the device account names no kitchen: set CATERKING_KITCHEN_ID or its app_metadata"
    code = (status.error_code or "").strip().casefold()
    return SIGN_IN_WORDS.get(code, _CHECK_ACCOUNT)


def changes_waiting(n: int) -> str:
    return f"{n} change{'s' if n != 1 else ''} waiting to sync"


def fmt_age(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def banner_facts(
    status: SyncStatus, now: datetime, tz: tzinfo | None, stale_after: timedelta
) -> BannerFacts:
    def hm(t: datetime) -> str:
        return f"{t.astimezone(tz):%H:%M}"

    parts: list[str] = []
    shorter: dict[int, str] = {}  # index in parts -> fewer words for a narrow screen

    def saved_copy(at: datetime) -> None:
        shorter[len(parts)] = f"saved {hm(at)}"
        parts.append(f"board from saved copy at {hm(at)}")

    state = status.state
    waiting = changes_waiting(status.pending_count) if status.pending_count else ""
    saved = status.board_saved_at
    if state is ConnectionState.LIVE:
        level = BannerLevel.LIVE
        headline = "Live"
        last = status.last_message_at or status.since
        if last is not None and now - last > stale_after:
            level = BannerLevel.WARN
            headline = "Live — no updates"
            parts.append(
                f"nothing received for {fmt_age((now - last).total_seconds())}; "
                "the board may be out of date"
            )
        else:
            # Every server message (heartbeats too) proves the board is hearing the server,
            # so show the latest of a sync and a message, not the last full sync alone.
            heard = [t for t in (status.last_sync_at, status.last_message_at) if t is not None]
            if heard:
                parts.append(f"updated {max(heard).astimezone(tz):%H:%M:%S}")
        if waiting:
            parts.append(waiting)
    elif state is ConnectionState.CONNECTING:
        level = BannerLevel.CONNECTING
        headline = "Connecting"
        if saved is not None:
            saved_copy(saved)
        if waiting:
            parts.append(waiting)
    elif state is ConnectionState.RECONNECTING:
        level = BannerLevel.RECONNECTING
        headline = "Reconnecting"
        if status.attempt:
            parts.append(f"attempt {status.attempt}")
        if status.next_retry_at is not None:
            wait = math.ceil((status.next_retry_at - now).total_seconds())
            parts.append(f"next try in {wait} s" if wait > 0 else "trying now")
        if waiting:
            parts.append(waiting)
    elif state is ConnectionState.OFFLINE:
        level = BannerLevel.OFFLINE
        headline = "Offline"
        if status.since is not None:
            parts.append(f"since {hm(status.since)}")
        parts.append(waiting or "no changes waiting")
        if saved is not None:
            saved_copy(saved)
        else:
            parts.append("no saved board yet")
    else:
        level = BannerLevel.AUTH_FAILED
        headline = "Sign-in failed"
        # One row: how to fix it comes first (the setup screen then says why in full).
        parts.append("tap here or press F2 to fix it")
        parts.append(sign_in_detail(status))
        if waiting:
            parts.append(waiting)
    if status.skew_warning and status.clock_skew is not None:
        off = fmt_age(abs(status.clock_skew.total_seconds()))
        parts.append(f"device clock is off by {off}; timers use server time")
        if level is BannerLevel.LIVE:
            level = BannerLevel.WARN
    short = " · ".join(shorter.get(i, part) for i, part in enumerate(parts)) if shorter else ""
    return BannerFacts(level, headline, " · ".join(parts), short)
