"""Redis restarting under Parley: every pooled socket is stale once it is back.

A private ``redis-server`` on a spare port is started, used through Parley's own Redis client (the
pool, the shared breaker, the cache and the limiter the container builds), killed and started again
on the same port. The first use of each pooled connection afterwards finds a dead socket: that must
be retried on a fresh connection, not counted against Redis, so limits are shared again at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from src.infrastructure.cache.redis_cache import RedisCache
from src.infrastructure.container import redis_client
from src.infrastructure.health import RedisProbe
from src.infrastructure.rate_limit.memory_limiter import MemoryRateLimiter
from src.infrastructure.rate_limit.redis_limiter import KEY_PREFIX, RedisRateLimiter
from src.infrastructure.rate_limit.resilient import ResilientRateLimiter
from src.infrastructure.realtime.connection_slots import ConnectionSlots
from src.infrastructure.resilience import CircuitBreaker
from src.infrastructure.settings import Settings
from tests.conftest import SettingsFactory
from tests.logs import capture_logs
from tests.redis_process import RedisProcess

pytestmark = pytest.mark.redis

#: More pooled connections than the breaker tolerates failures: each one goes stale in the restart.
POOLED = 12
#: Only a guard against a hang; nothing here measures speed.
HANG_GUARD_S = 10


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(make_settings: SettingsFactory, sqlite_url: str, own_redis: RedisProcess) -> Settings:
    return make_settings(DATABASE_URL=sqlite_url, REDIS_URL=own_redis.url, REDIS_TIMEOUT=0.5)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Redis]:
    redis = redis_client(settings)
    yield redis
    await redis.aclose()


async def fill_the_pool(client: Redis) -> None:
    """Hold ``POOLED`` connections at once, so the pool keeps that many sockets open afterwards."""
    await asyncio.gather(*(client.blpop([f"parley:test:nothing:{i}"], timeout=0.2) for i in range(POOLED)))
    assert len(client.connection_pool._available_connections) >= POOLED


def restart(server: RedisProcess) -> None:
    server.kill()
    server.start()  # same port, empty: every pooled socket now points at a dead server


async def test_limits_stay_shared_through_a_restart(client: Redis, own_redis: RedisProcess) -> None:
    breaker = CircuitBreaker("redis-restart-limits", failure_threshold=3, reset_after=60)
    limiter = ResilientRateLimiter(RedisRateLimiter(client), MemoryRateLimiter(), breaker, timeout=0.5)
    await fill_the_pool(client)
    restart(own_redis)

    with capture_logs() as logs:
        async with asyncio.timeout(HANG_GUARD_S):
            decisions = [await limiter.hit("user:u1", 5, 60) for _ in range(POOLED + 3)]

    # Every check went to Redis (the count is there, shared), and the stale sockets never opened
    # the breaker: exactly the limit was allowed.
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * (POOLED - 2)
    assert f"{KEY_PREFIX}user:u1".encode() in own_redis.stored_keys()
    assert breaker.state == "closed"
    assert not logs.events("circuit_opened")


async def test_concurrent_calls_on_stale_sockets_all_reach_redis(client: Redis, own_redis: RedisProcess) -> None:
    breaker = CircuitBreaker("redis-restart-cache", failure_threshold=3, reset_after=60)
    cache = RedisCache(client, breaker, timeout=0.5)
    await fill_the_pool(client)
    restart(own_redis)

    async with asyncio.timeout(HANG_GUARD_S):
        await asyncio.gather(*(cache.set(f"k{i}", i, 60) for i in range(POOLED)))
        values = await asyncio.gather(*(cache.get(f"k{i}", int) for i in range(POOLED)))
    assert values == list(range(POOLED))
    assert breaker.state == "closed"


async def test_websocket_caps_stay_shared_through_a_restart(client: Redis, own_redis: RedisProcess) -> None:
    breaker = CircuitBreaker("redis-restart-slots", failure_threshold=3, reset_after=60)
    instance_a = ConnectionSlots(client, breaker, limit=2, timeout=0.5)
    instance_b = ConnectionSlots(client, breaker, limit=2, timeout=0.5)
    await fill_the_pool(client)
    restart(own_redis)

    async with asyncio.timeout(HANG_GUARD_S):
        first = await instance_a.acquire("u1")
        second = await instance_b.acquire("u1")
        third = await instance_a.acquire("u1")
    assert first is not None
    assert first.shared
    assert second is not None
    assert second.shared
    assert third is None  # the cap holds across instances
    assert breaker.state == "closed"


async def test_readiness_sees_redis_at_once_after_a_restart(client: Redis, own_redis: RedisProcess) -> None:
    probe = RedisProbe(client)
    await fill_the_pool(client)
    restart(own_redis)
    async with asyncio.timeout(HANG_GUARD_S):
        for _ in range(POOLED):
            assert await probe.check() == {}


async def test_sockets_admitted_while_redis_was_down_count_once_it_is_back(
    client: Redis, own_redis: RedisProcess
) -> None:
    breaker = CircuitBreaker("redis-restart-slots-down", failure_threshold=1, reset_after=0.2)
    instance_a = ConnectionSlots(client, breaker, limit=2, timeout=0.5)
    instance_b = ConnectionSlots(client, breaker, limit=2, timeout=0.5)
    own_redis.kill()
    async with asyncio.timeout(HANG_GUARD_S):
        first = await instance_a.acquire("u1")
        second = await instance_a.acquire("u1")
    assert first is not None
    assert not first.shared
    assert second is not None
    assert not second.shared
    assert instance_a.renew_after(first) < instance_a.lease_seconds / 3  # it tries to register soon

    own_redis.start()  # empty: it knows nothing of the two open sockets
    await asyncio.sleep(0.3)  # past the breaker's reset: the next call probes Redis
    async with asyncio.timeout(HANG_GUARD_S):
        # This instance registers its sockets before it asks Redis to admit another one.
        assert await instance_a.acquire("u1") is None
        # Another instance sees them too: the cap is shared again.
        assert await instance_b.acquire("u1") is None
        await instance_a.release(first)
        third = await instance_b.acquire("u1")
    assert third is not None
    assert third.shared
    assert instance_a.renew_after(second) == instance_a.lease_seconds / 3
    assert breaker.state == "closed"


async def test_a_socket_admitted_while_redis_was_down_registers_when_renewed(
    client: Redis, own_redis: RedisProcess
) -> None:
    breaker = CircuitBreaker("redis-restart-slots-renew", failure_threshold=1, reset_after=0.2)
    instance_a = ConnectionSlots(client, breaker, limit=1, timeout=0.5)
    instance_b = ConnectionSlots(client, breaker, limit=1, timeout=0.5)
    own_redis.kill()
    async with asyncio.timeout(HANG_GUARD_S):
        local = await instance_a.acquire("u1")
    assert local is not None
    assert not local.shared

    own_redis.start()
    await asyncio.sleep(0.3)
    async with asyncio.timeout(HANG_GUARD_S):
        await instance_a.renew(local)
        assert await instance_b.acquire("u1") is None
