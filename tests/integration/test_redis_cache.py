"""The Redis cache against a real Redis: round trips, expiry, prefix deletion, and Redis going away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import msgspec
import pytest
from redis.asyncio import Redis

from src.infrastructure.cache.redis_cache import KEY_PREFIX, RedisCache
from src.infrastructure.resilience import BreakerState, CircuitBreaker
from tests.redis_process import RedisProcess

pytestmark = pytest.mark.redis

#: A stalled or dead Redis must not hold a call much past the adapter's timeout (0.2 s here); this
#: only guards against a hang, it does not measure speed.
HANG_GUARD_S = 5


class Author(msgspec.Struct):
    id: UUID
    name: str


class Article(msgspec.Struct):
    id: UUID
    title: str
    authors: list[Author]
    published_at: datetime
    views: int = 0


ARTICLE = Article(
    id=UUID("01937a8e-0000-7000-8000-000000000001"),
    title="Caching with msgspec",
    authors=[Author(id=UUID("01937a8e-0000-7000-8000-0000000000aa"), name="Ada")],
    published_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    views=42,
)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
    yield redis
    await redis.aclose()


def cache_on(client: Redis, *, scan_batch: int = 500, reset_after: float = 5.0) -> RedisCache:
    breaker = CircuitBreaker("redis-test", failure_threshold=2, reset_after=reset_after)
    return RedisCache(client, breaker, timeout=0.2, scan_batch=scan_batch)


async def test_structs_and_dicts_round_trip_under_the_parley_prefix(client: Redis) -> None:
    cache = cache_on(client)
    await cache.set("articles:1", ARTICLE, 60)
    await cache.set("counts", {"a": [1, 2], "b": []}, 60)

    assert await cache.get("articles:1", Article) == ARTICLE
    assert await cache.get("counts", dict[str, list[int]]) == {"a": [1, 2], "b": []}
    assert await cache.get("articles:2", Article) is None
    assert sorted(await client.keys("*")) == [f"{KEY_PREFIX}articles:1".encode(), f"{KEY_PREFIX}counts".encode()]


async def test_an_entry_expires_after_its_ttl(client: Redis) -> None:
    cache = cache_on(client)
    await cache.set("short", ARTICLE, 0.3)
    await cache.set("long", ARTICLE, 60)
    assert 0 < await client.pttl(f"{KEY_PREFIX}short") <= 300
    assert await cache.get("short", Article) == ARTICLE

    await asyncio.sleep(0.4)
    assert await cache.get("short", Article) is None
    assert await cache.get("long", Article) == ARTICLE


async def test_delete_prefix_walks_more_keys_than_one_scan_batch(client: Redis) -> None:
    cache = cache_on(client, scan_batch=25)
    for n in range(260):
        await cache.set(f"articles:{n}", n, 60)
    for n in range(5):
        await cache.set(f"articles2:{n}", n, 60)  # shares the start of the name, not the prefix
        await cache.set(f"a*b:{n}", n, 60)
        await cache.set(f"aXb:{n}", n, 60)  # what the pattern a*b would match were it not escaped
    await client.set("someone-else:articles:1", b"not ours")

    assert await cache.delete_prefix("articles:") == 260
    assert await cache.get("articles:0", int) is None
    assert await cache.get("articles:259", int) is None
    assert await cache.get("articles2:4", int) == 4

    assert await cache.delete_prefix("a*b:") == 5
    assert await cache.get("aXb:0", int) == 0
    assert await client.get("someone-else:articles:1") == b"not ours"


async def test_delete_removes_only_the_named_keys(client: Redis) -> None:
    cache = cache_on(client)
    for key in ("a", "b", "c"):
        await cache.set(key, key, 60)
    await cache.delete("a", "c", "never-there")
    assert [await cache.get(k, str) for k in ("a", "b", "c")] == [None, "b", None]


async def test_a_value_that_no_longer_decodes_is_a_miss_and_is_deleted(client: Redis) -> None:
    cache = cache_on(client)
    await client.set(f"{KEY_PREFIX}garbage", b"\xc1 not msgpack")
    await cache.set("old-shape", {"title": "written before Article had an id"}, 60)

    assert await cache.get("garbage", Article) is None
    assert await cache.get("old-shape", Article) is None
    assert await client.exists(f"{KEY_PREFIX}garbage", f"{KEY_PREFIX}old-shape") == 0


# -- Redis going away --------------------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.stop()


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state, read afresh (mypy would keep ``breaker.state`` narrowed by an earlier assert)."""
    return breaker.state


async def wait_until_caching_works(cache: RedisCache, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await cache.set("probe", "back", 60)
        if await cache.get("probe", str) == "back":
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"caching did not work again within {seconds} s")


async def test_a_dead_redis_is_a_miss_and_caching_resumes_when_it_is_back(own_redis: RedisProcess) -> None:
    client = Redis.from_url(own_redis.url, socket_timeout=0.2, socket_connect_timeout=0.2)
    breaker = CircuitBreaker("redis-test", failure_threshold=2, reset_after=0.3)
    cache = RedisCache(client, breaker, timeout=0.2, scan_batch=10)
    try:
        await cache.set("article", ARTICLE, 60)
        assert await cache.get("article", Article) == ARTICLE

        own_redis.kill()
        async with asyncio.timeout(HANG_GUARD_S):
            assert await cache.get("article", Article) is None
            await cache.set("article", ARTICLE, 60)
            await cache.delete("article")
            assert await cache.delete_prefix("") == 0
            assert await cache.get("article", Article) is None
        assert state_of(breaker) != "closed"  # repeated failures opened it: calls now skip Redis

        own_redis.start()  # a fresh, empty server on the same port
        await wait_until_caching_works(cache)
        await cache.set("article", ARTICLE, 60)
        assert await cache.get("article", Article) == ARTICLE
        assert state_of(breaker) == "closed"
    finally:
        await client.aclose()


async def test_a_stalled_redis_is_a_miss_not_a_hang(own_redis: RedisProcess) -> None:
    client = Redis.from_url(own_redis.url, socket_timeout=0.2, socket_connect_timeout=0.2)
    breaker = CircuitBreaker("redis-test", failure_threshold=2, reset_after=0.3)
    cache = RedisCache(client, breaker, timeout=0.2)
    try:
        await cache.set("article", ARTICLE, 60)
        own_redis.pause()  # accepts nothing and answers nothing, like an overloaded server
        try:
            async with asyncio.timeout(HANG_GUARD_S):
                assert await cache.get("article", Article) is None
                await cache.set("other", ARTICLE, 60)
        finally:
            own_redis.resume()
        await wait_until_caching_works(cache)
        assert await cache.get("article", Article) == ARTICLE  # the server kept its data
    finally:
        await client.aclose()
