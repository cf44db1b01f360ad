"""A circuit breaker for optional services (Redis): fail fast while the service is down.

Closed: calls go through; ``failure_threshold`` consecutive failures open it. Open: calls are not
attempted (callers use their fallback at once) until ``reset_after`` seconds pass. Half-open: one
probe call goes through; success closes it, failure opens it again. Each switch is logged once,
not once per request, and its state is exported as a metric.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS

_T = TypeVar("_T")
BreakerState = Literal["closed", "open", "half_open"]
_STATE_VALUE: dict[BreakerState, int] = {"closed": 0, "half_open": 1, "open": 2}

logger = get_logger("parley.resilience")


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        reset_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = failure_threshold
        self._reset_after = reset_after
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._state: BreakerState = "closed"
        self._probing = False
        METRICS.breaker_state.labels(name).set(0)

    @property
    def state(self) -> BreakerState:
        if self._state == "open" and self._clock() - self._opened_at >= self._reset_after:
            return "half_open"
        return self._state

    def allow(self) -> bool:
        """May a call be attempted now? In half-open, only one probe at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def record_success(self) -> None:
        self._probing = False
        self._failures = 0
        if self._state != "closed":
            self._switch("closed")

    def record_failure(self, error: BaseException | None = None) -> None:
        self._probing = False
        self._failures += 1
        if self._state == "open" or self._failures >= self._threshold:
            self._opened_at = self._clock()
            if self._state != "open":
                self._switch("open", error)

    def _switch(self, state: BreakerState, error: BaseException | None = None) -> None:
        self._state = state
        METRICS.breaker_state.labels(self.name).set(_STATE_VALUE[state])
        if state == "open":
            logger.warning(
                "circuit_opened",
                breaker=self.name,
                retry_in_s=self._reset_after,
                error=f"{type(error).__name__}: {error}" if error else None,
            )
        else:
            logger.info("circuit_closed", breaker=self.name)

    async def call(self, operation: Callable[[], Awaitable[_T]], fallback: Callable[[], Awaitable[_T]]) -> _T:
        """Run ``operation`` through the breaker; ``fallback`` when open or when it fails."""
        if not self.allow():
            return await fallback()
        try:
            result = await operation()
        except Exception as exc:  # noqa: BLE001 - any failure of the optional service means fallback
            self.record_failure(exc)
            return await fallback()
        self.record_success()
        return result
