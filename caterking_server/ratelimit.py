"""Token buckets by key, as GoTrue limits its endpoints: `count` requests per `window_s`
seconds, refilled continuously, with a burst of `count`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_KEYS = 100_000  # buckets kept at most; full (idle) ones are dropped first


@dataclass(frozen=True)
class AuthLimits:
    """Auth's limits (`caterking-server serve --help`; docs/security.md). 0 = off.

    Defaults as hosted Supabase's per-IP limits (`[auth.rate_limit]`: 30 sign-ins and
    150 token refreshes per 5 minutes), plus a per-account limit on wrong passwords,
    which Supabase does not have: it stops a guesser that spreads over many addresses.
    """

    sign_in_per_ip: int = 30
    token_refresh_per_ip: int = 150
    failed_sign_in_per_account: int = 10
    window_s: float = 300.0
    min_password_length: int = 10

    @classmethod
    def unlimited(cls) -> AuthLimits:
        return cls(sign_in_per_ip=0, token_refresh_per_ip=0, failed_sign_in_per_account=0)


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    count: int
    window_s: float
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.count > 0

    def _bucket(self, key: str) -> _Bucket:
        now = self.clock()
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= MAX_KEYS:
                self._prune(now)
            b = self._buckets[key] = _Bucket(float(self.count), now)
        else:
            rate = self.count / self.window_s
            b.tokens = min(float(self.count), b.tokens + (now - b.at) * rate)
            b.at = now
        return b

    def _prune(self, now: float) -> None:
        rate = self.count / self.window_s
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * rate >= self.count]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= MAX_KEYS:  # all busy: forget the oldest half
            for k in sorted(self._buckets, key=lambda k: self._buckets[k].at)[: MAX_KEYS // 2]:
                del self._buckets[k]

    def retry_after(self, key: str) -> float | None:
        """Seconds until `key` may go again, or None if it may now (nothing taken)."""
        if not self.enabled:
            return None
        b = self._bucket(key)
        if b.tokens >= 1:
            return None
        return (1 - b.tokens) * self.window_s / self.count

    def take(self, key: str) -> float | None:
        """Use one request of `key`: None if allowed, else seconds until one is free."""
        wait = self.retry_after(key)
        if wait is None and self.enabled:
            self._buckets[key].tokens -= 1
        return wait
