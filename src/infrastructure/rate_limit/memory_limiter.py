"""The per-process rate limiter: GCRA over a dict, for the embedded default and as Redis's fallback.

Correct within one process (a check never awaits between reading and writing the key, so
concurrent requests on the event loop cannot interleave), not shared between processes.

Memory stays bounded: a key whose TAT has passed is back to its full allowance and carries no
information, so expired keys are swept out (at most once per ``sweep_interval`` seconds); if more
than ``max_keys`` are still live, the ones closest to their full allowance go first.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

from src.domain.shared.rate_limit import RateDecision
from src.infrastructure.rate_limit.gcra import MICROS, decide, parameters

#: Fraction of ``max_keys`` kept after an over-capacity sweep, so that sweeps stay rare.
_REFILL_HEADROOM = 0.9


class MemoryRateLimiter:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
        sweep_interval: float = 30.0,
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be positive")
        self._clock = clock
        self._max_keys = max_keys
        self._sweep_interval_us = round(sweep_interval * MICROS)
        self._tats: dict[str, int] = {}
        self._next_sweep_us: int | None = None

    def __len__(self) -> int:
        """Keys currently held."""
        return len(self._tats)

    async def hit(self, key: str, limit: int, window_seconds: float, *, cost: int = 1) -> RateDecision:
        # No await between reading and writing the key: concurrent checks cannot interleave.
        params = parameters(limit, window_seconds, cost)
        now = round(self._clock() * MICROS)
        outcome = decide(self._tats.get(key), now, params)
        if outcome.new_tat_us is not None:
            self._tats[key] = outcome.new_tat_us
        self._maybe_sweep(now)
        return outcome.decision(limit)

    async def peek(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        params = parameters(limit, window_seconds)
        return decide(self._tats.get(key), round(self._clock() * MICROS), params).decision(limit)

    def _maybe_sweep(self, now: int) -> None:
        if self._next_sweep_us is None:
            self._next_sweep_us = now + self._sweep_interval_us
        over_capacity = len(self._tats) > self._max_keys
        if now < self._next_sweep_us and not over_capacity:
            return
        self._next_sweep_us = now + self._sweep_interval_us
        self._tats = {k: tat for k, tat in self._tats.items() if tat > now}
        keep = max(1, int(self._max_keys * _REFILL_HEADROOM))
        if over_capacity and len(self._tats) > keep:
            # Trim below the cap, not to it, so the next over-capacity sweep is many inserts away.
            self._tats = dict(heapq.nlargest(keep, self._tats.items(), key=lambda item: item[1]))
