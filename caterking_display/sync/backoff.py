"""Capped exponential backoff with full jitter (AWS architecture blog, "Exponential
Backoff And Jitter"): wait a uniform random time in [0, min(cap, base·2^(n−1))]."""

from __future__ import annotations

import random


class Backoff:
    def __init__(
        self,
        base: float = 0.5,
        cap: float = 30.0,
        rng: random.Random | None = None,
        floor: float = 0.05,
    ) -> None:
        if base <= 0 or cap < base:
            raise ValueError("need 0 < base <= cap")
        self.base = base
        self.cap = cap
        self.floor = floor
        self._rng = rng or random.Random()

    def ceiling(self, attempt: int) -> float:
        """The largest wait before attempt number ``attempt`` (1-based)."""
        n = max(1, attempt)
        if n > 64:
            return self.cap
        return float(min(self.cap, self.base * 2 ** (n - 1)))

    def delay(self, attempt: int) -> float:
        return max(self.floor, self._rng.uniform(0.0, self.ceiling(attempt)))
