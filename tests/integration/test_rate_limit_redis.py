"""The Redis GCRA limiter against a real Redis: exact under concurrency, shared, same answers as memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from src.infrastructure.container import redis_client
from src.infrastructure.rate_limit.memory_limiter import MemoryRateLimiter
from src.infrastructure.rate_limit.redis_limiter import KEY_PREFIX, RedisRateLimiter
from src.infrastructure.settings import Settings
from tests.conftest import SettingsFactory

pytestmark = pytest.mark.redis

# A long window, so no allowance comes back while a test runs, however slow the machine.
HOUR = 3600.0


@pytest.fixture
def settings_with_redis(make_settings: SettingsFactory, redis_url: str) -> Settings:
    # Exactness is about Redis's counting: a generous timeout keeps a loaded test machine from
    # turning a slow connect into the (separately tested) per-process fallback.
    return make_settings(REDIS_URL=redis_url, REDIS_TIMEOUT=5)


@pytest.fixture
async def redis(settings_with_redis: Settings) -> AsyncIterator[Redis]:
    """A client configured as the container configures it (pool size, timeouts)."""
    client = redis_client(settings_with_redis)
    yield client
    await client.aclose()


@pytest.fixture
async def second_redis(settings_with_redis: Settings) -> AsyncIterator[Redis]:
    """Another client with its own connections: what a second API instance would have."""
    client = redis_client(settings_with_redis)
    yield client
    await client.aclose()


async def test_200_concurrent_hits_on_one_limiter_let_exactly_the_limit_through(redis: Redis) -> None:
    limiter = RedisRateLimiter(redis)

    decisions = await asyncio.gather(*(limiter.hit("burst", 50, HOUR) for _ in range(200)))

    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == 50
    assert sorted(d.remaining for d in allowed) == list(range(50))  # each one saw the count it left
    assert all(d.retry_after > 0 for d in decisions if not d.allowed)


async def test_two_limiters_on_one_redis_share_the_limit(redis: Redis, second_redis: Redis) -> None:
    first, second = RedisRateLimiter(redis), RedisRateLimiter(second_redis)

    decisions = await asyncio.gather(
        *(first.hit("shared", 50, HOUR) for _ in range(100)),
        *(second.hit("shared", 50, HOUR) for _ in range(100)),
    )

    assert sum(d.allowed for d in decisions) == 50


async def test_redis_and_memory_limiters_agree_on_a_sequence_of_hits(redis: Redis) -> None:
    shared, local = RedisRateLimiter(redis), MemoryRateLimiter()
    sequence = [("a", 1)] * 3 + [("b", 4), ("a", 2), ("b", 2), ("a", 1), ("b", 1), ("c", 5), ("c", 1), ("a", 1)]

    for key, cost in sequence:
        remote = await shared.hit(key, 5, HOUR, cost=cost)
        mine = await local.hit(key, 5, HOUR, cost=cost)
        assert (remote.allowed, remote.remaining, remote.limit) == (mine.allowed, mine.remaining, mine.limit), key
        # The two clocks run a few milliseconds apart; the times agree to well within a second.
        assert remote.retry_after == pytest.approx(mine.retry_after, abs=0.5)
        assert remote.reset_after == pytest.approx(mine.reset_after, abs=0.5)


async def test_a_key_is_stored_under_the_prefix_and_expires_with_its_allowance(redis: Redis) -> None:
    limiter = RedisRateLimiter(redis)

    decision = await limiter.hit("tenant:42", 10, 60)  # 6 s until the one hit is forgotten

    assert await redis.keys("*") == [f"{KEY_PREFIX}tenant:42".encode()]
    ttl_ms = await redis.pttl(f"{KEY_PREFIX}tenant:42")
    assert 0 < ttl_ms <= 6000
    assert decision.reset_after == pytest.approx(6.0, abs=0.01)


async def test_a_rejected_hit_writes_nothing(redis: Redis) -> None:
    limiter = RedisRateLimiter(redis)
    await limiter.hit("k", 1, HOUR)
    stored = await redis.get(f"{KEY_PREFIX}k")

    rejected = await limiter.hit("k", 1, HOUR)

    assert not rejected.allowed
    assert await redis.get(f"{KEY_PREFIX}k") == stored


async def test_the_script_is_loaded_again_when_redis_has_forgotten_it(redis: Redis) -> None:
    limiter = RedisRateLimiter(redis)
    assert (await limiter.hit("k", 2, HOUR)).allowed

    await redis.script_flush()  # what a Redis restart or failover does to cached scripts

    second, third = await limiter.hit("k", 2, HOUR), await limiter.hit("k", 2, HOUR)
    assert (second.allowed, third.allowed) == (True, False)


async def test_peek_answers_like_the_next_hit_and_writes_nothing(redis: Redis) -> None:
    limiter = RedisRateLimiter(redis)

    assert (await limiter.peek("login:ip:ada", 3, HOUR)).allowed
    assert await redis.exists(KEY_PREFIX + "login:ip:ada") == 0
    assert [(await limiter.hit("login:ip:ada", 3, HOUR)).allowed for _ in range(3)] == [True] * 3

    peeked = await limiter.peek("login:ip:ada", 3, HOUR)
    stored = await redis.get(KEY_PREFIX + "login:ip:ada")
    assert not peeked.allowed
    assert 0 < peeked.retry_after <= HOUR / 3
    assert not (await limiter.peek("login:ip:ada", 3, HOUR)).allowed
    assert await redis.get(KEY_PREFIX + "login:ip:ada") == stored
