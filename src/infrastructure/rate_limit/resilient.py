"""Redis first, the per-process limiter when Redis cannot answer.

Every check goes to Redis through the circuit breaker shared by all Redis users. A check that
fails or takes longer than ``timeout`` (the Redis client retries on its own; this bounds the whole
call) is decided by the in-memory limiter instead, and counts as a failure for the breaker; once
the breaker opens, checks go straight to memory until its probe finds Redis again. A Redis
problem therefore never becomes an error or a slow request: limits only become per-process.
"""

from __future__ import annotations

import asyncio

from src.application.shared.ports import RateLimiter
from src.domain.shared.rate_limit import RateDecision
from src.infrastructure.rate_limit.gcra import parameters
from src.infrastructure.resilience import CircuitBreaker


class ResilientRateLimiter:
    def __init__(self, primary: RateLimiter, fallback: RateLimiter, breaker: CircuitBreaker, *, timeout: float) -> None:
        self._primary = primary
        self._fallback = fallback
        self._breaker = breaker
        self._timeout = timeout

    async def hit(self, key: str, limit: int, window_seconds: float, *, cost: int = 1) -> RateDecision:
        # Bad arguments are the caller's bug: raise them here rather than count them against Redis.
        parameters(limit, window_seconds, cost)

        async def shared() -> RateDecision:
            async with asyncio.timeout(self._timeout):
                return await self._primary.hit(key, limit, window_seconds, cost=cost)

        async def local() -> RateDecision:
            return await self._fallback.hit(key, limit, window_seconds, cost=cost)

        return await self._breaker.call(shared, local)

    async def peek(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        parameters(limit, window_seconds)

        async def shared() -> RateDecision:
            async with asyncio.timeout(self._timeout):
                return await self._primary.peek(key, limit, window_seconds)

        async def local() -> RateDecision:
            return await self._fallback.peek(key, limit, window_seconds)

        return await self._breaker.call(shared, local)
