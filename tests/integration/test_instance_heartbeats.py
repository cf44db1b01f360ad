"""Instances' heartbeats against a real Redis: instances see each other, leave the list when they stop
or stop beating, damaged heartbeats are skipped, and a Redis out of reach leaves this process alone."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from src.infrastructure.admin.instances import KEY_PREFIX, InstanceRegistry, RecentCounts
from src.infrastructure.clock import SystemClock
from src.infrastructure.resilience import CircuitBreaker

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def registry(redis: Redis | None, role: str = "api", *, sockets: int = 0, replies: int = 0) -> InstanceRegistry:
    return InstanceRegistry(
        role=role,
        version="1.2.3",
        clock=SystemClock(),
        redis=redis,
        breaker=CircuitBreaker("redis-heartbeat-test", failure_threshold=1, reset_after=60),
        timeout=0.5,
        interval=1.0,
        open_websockets=lambda: sockets,
        streaming_replies=lambda: replies,
    )


async def test_instances_see_each_other_and_leave_when_they_stop(redis: Redis) -> None:
    api = registry(redis, sockets=3, replies=1)
    worker = registry(redis, "worker")
    await api.start()
    await worker.start()
    try:
        seen = await asyncio.wait_for(_until_listed(api, 2), timeout=5)
        assert seen[0].instance_id == api.instance_id  # this process first
        other = seen[1]
        assert (other.instance_id, other.role, other.version) == (worker.instance_id, "worker", "1.2.3")
        from_worker = {r.instance_id: r for r in await worker.instances()}
        assert (from_worker[api.instance_id].open_websockets, from_worker[api.instance_id].streaming_replies) == (3, 1)
        ttl = await redis.pttl(f"{KEY_PREFIX}{api.instance_id}")
        assert 0 < ttl <= 3000  # three heartbeats
    finally:
        await worker.stop()
    assert [r.instance_id for r in await api.instances()] == [api.instance_id]
    await api.stop()
    assert await redis.exists(f"{KEY_PREFIX}{api.instance_id}") == 0


async def test_a_damaged_heartbeat_is_skipped(redis: Redis) -> None:
    mine = registry(redis)
    await redis.set(f"{KEY_PREFIX}junk", b"{not json", px=5000)
    await redis.set(f"{KEY_PREFIX}old", b'{"instance_id": "old"}', px=5000)
    assert [r.instance_id for r in await mine.instances()] == [mine.instance_id]


async def test_without_redis_or_with_redis_away_the_list_is_this_process() -> None:
    alone = registry(None)
    assert alone.shared is False
    assert await alone.beat() is False
    assert [r.instance_id for r in await alone.instances()] == [alone.instance_id]
    unreachable = registry(Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
    assert await unreachable.beat() is False
    assert [r.instance_id for r in await unreachable.instances()] == [unreachable.instance_id]


def test_recent_counts_are_the_requests_of_the_window_only() -> None:
    totals = [(0, 0)]
    now = [0.0]
    counts = RecentCounts(lambda: totals[-1], window=60, monotonic=lambda: now[0])
    totals.append((10, 1))
    now[0] = 30
    assert counts.now() == (10, 1)  # younger than the window: everything since the start
    totals.append((25, 1))
    now[0] = 100
    assert counts.now() == (15, 0)  # the sample at 30 s is the newest one a window old
    now[0] = 200
    assert counts.now() == (0, 0)  # nothing new in the last minute


async def _until_listed(mine: InstanceRegistry, count: int) -> list:  # type: ignore[type-arg]
    while True:
        found = await mine.instances()
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)


class SwallowingRedis:
    """A Redis whose ``SET`` loses the caller's cancellation, as Python 3.11's ``asyncio.wait_for``
    (inside redis-py) does when the command completes in the same loop turn as the cancel."""

    def __init__(self, real: Redis) -> None:
        self._real = real
        self.writing = asyncio.Event()

    async def set(self, *args: Any, **kwargs: Any) -> Any:
        self.writing.set()
        with contextlib.suppress(asyncio.CancelledError):  # the race: the cancellation is dropped
            await asyncio.sleep(0.2)
        return await self._real.set(*args, **kwargs)

    async def delete(self, *names: Any) -> Any:
        return await self._real.delete(*names)


async def test_stopping_ends_the_heartbeat_even_when_redis_lost_the_cancellation(redis: Redis) -> None:
    """Regression: an app's shutdown hung for good (a CI run's 900 s test timeout) when the heartbeat's
    one cancellation was swallowed inside a Redis call: the loop went back to sleep and beat on."""
    swallowing = SwallowingRedis(redis)
    heartbeat = registry(cast(Redis, swallowing))
    await heartbeat.start()
    await asyncio.wait_for(swallowing.writing.wait(), timeout=5)
    stopping = asyncio.ensure_future(heartbeat.stop())
    # asyncio.wait, not wait_for: on a timeout it leaves the stop running instead of cancelling it
    # (a second cancellation would end the loop and hide the hang).
    done, _ = await asyncio.wait({stopping}, timeout=10)
    if not done:
        stopping.cancel()
    assert stopping in done, "stop() still waiting for the heartbeat loop"
    assert await redis.exists(f"{KEY_PREFIX}{heartbeat.instance_id}") == 0
