"""Rate limiter: check latency (p50/p99) on Redis over loopback and in memory, and checks/s under load.

Goal: a Redis check p50 under 0.5 ms, in one round trip (one EVALSHA of the GCRA script). The
Redis figures use the client the container builds (its pool and timeouts). Keys live under
``parley:rl:bench:`` and are deleted afterwards; nothing else in the database is touched.

    BENCH_REDIS_URL=redis://127.0.0.1:6379/14 uv run python -m bench rate_limiter
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from src.application.shared.ports import RateLimiter
from src.infrastructure.container import redis_client
from src.infrastructure.rate_limit.memory_limiter import MemoryRateLimiter
from src.infrastructure.rate_limit.redis_limiter import KEY_PREFIX, RedisRateLimiter
from src.infrastructure.rate_limit.resilient import ResilientRateLimiter
from src.infrastructure.resilience import CircuitBreaker
from src.infrastructure.settings import RedisSettings, Settings

SEQUENTIAL_CHECKS = 5000
CONCURRENT_CALLERS = 50
CONCURRENT_CHECKS = 20_000
BENCH_PREFIX = KEY_PREFIX + "bench:"
# 1000 clients at 10 per minute: the sequence mixes first hits, allowed hits and rejections.
KEYS, LIMIT, WINDOW = 1000, 10, 60.0


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


async def sequential(limiter: RateLimiter, count: int) -> dict[str, float]:
    latencies: list[float] = []
    for n in range(count):
        started = time.perf_counter()
        await limiter.hit(f"seq:{n % KEYS}", LIMIT, WINDOW)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    return {
        "p50_us": round(statistics.median(latencies) * 1e6, 1),
        "p99_us": round(latencies[int(len(latencies) * 0.99) - 1] * 1e6, 1),
    }


async def concurrent(limiter: RateLimiter, callers: int, total: int) -> float:
    """Checks per second with ``callers`` tasks sharing ``total`` checks."""
    per_caller = total // callers

    async def caller(index: int) -> None:
        for n in range(per_caller):
            await limiter.hit(f"conc:{(index * per_caller + n) % KEYS}", LIMIT, WINDOW)

    started = time.perf_counter()
    await asyncio.gather(*(caller(i) for i in range(callers)))
    return round(per_caller * callers / (time.perf_counter() - started))


def count_round_trips(client: Redis) -> Callable[[], int]:
    """Count the commands the client sends (each one is a round trip)."""
    sent = 0
    original: Callable[..., Awaitable[Any]] = client.execute_command

    async def counting(*args: Any, **options: Any) -> Any:
        nonlocal sent
        sent += 1
        return await original(*args, **options)

    client.execute_command = counting  # type: ignore[method-assign]
    return lambda: sent


async def delete_bench_keys(client: Redis) -> int:
    deleted = 0
    batch: list[bytes] = []
    async for key in client.scan_iter(match=BENCH_PREFIX + "*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            deleted += await client.delete(*batch)
            batch.clear()
    if batch:
        deleted += await client.delete(*batch)
    return deleted


async def measure() -> dict[str, float | str]:
    settings = Settings(redis=RedisSettings(url=redis_url()))
    client = redis_client(settings)
    figures: dict[str, float | str] = {"redis": redis_url().rsplit("@", 1)[-1]}
    try:
        await client.ping()
        shared = RedisRateLimiter(client, prefix=BENCH_PREFIX)
        await shared.hit("warmup", LIMIT, WINDOW)  # loads the script
        round_trips = count_round_trips(client)

        for name, value in (await sequential(shared, SEQUENTIAL_CHECKS)).items():
            figures[f"redis_{name}"] = value
        figures["redis_round_trips_per_check"] = round(round_trips() / SEQUENTIAL_CHECKS, 3)

        breaker = CircuitBreaker("bench-redis", failure_threshold=3, reset_after=5)
        resilient = ResilientRateLimiter(shared, MemoryRateLimiter(), breaker, timeout=settings.redis.timeout)
        for name, value in (await sequential(resilient, SEQUENTIAL_CHECKS)).items():
            figures[f"redis_via_breaker_{name}"] = value

        for name, value in (await sequential(MemoryRateLimiter(), SEQUENTIAL_CHECKS)).items():
            figures[f"memory_{name}"] = value

        figures[f"redis_checks_per_s_{CONCURRENT_CALLERS}_callers"] = await concurrent(
            shared, CONCURRENT_CALLERS, CONCURRENT_CHECKS
        )
        figures[f"memory_checks_per_s_{CONCURRENT_CALLERS}_callers"] = await concurrent(
            MemoryRateLimiter(), CONCURRENT_CALLERS, CONCURRENT_CHECKS
        )
        figures["redis_p50_goal_met"] = "yes" if float(figures["redis_p50_us"]) < 500 else "no"
    finally:
        figures["bench_keys_deleted"] = await delete_bench_keys(client)
        await client.aclose()
    return figures


def run() -> dict[str, float | str]:
    return asyncio.run(measure())
