"""The near cache on a real Redis: two "instances", each with its own pub/sub hub and copies, share
one Redis; a delete on one drops the other's copy at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from redis.asyncio import Redis

from src.application.identity.ports import UserAccessState
from src.domain.identity.model import Role, Tier
from src.infrastructure.cache.near_cache import NearCache
from src.infrastructure.cache.redis_cache import RedisCache
from src.infrastructure.realtime.pubsub import PubSubHub
from src.infrastructure.resilience import CircuitBreaker

pytestmark = pytest.mark.redis

T = TypeVar("T")
ACTIVE = UserAccessState(is_active=True, token_version=1, role=Role.CREATOR, tier=Tier.FREE, email="a@example.com")
INACTIVE = UserAccessState(is_active=False, token_version=1, role=Role.CREATOR, tier=Tier.FREE, email="a@example.com")
KEY = "identity:access:a"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Instance:
    redis: Redis
    hub: PubSubHub
    shared: RedisCache
    near: NearCache

    async def close(self) -> None:
        self.near.stop()
        await self.hub.stop()
        await self.redis.aclose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def instances(redis_url: str, clock: Clock) -> AsyncIterator[tuple[Instance, Instance]]:
    made = []
    for _ in range(2):
        redis = Redis.from_url(redis_url)
        breaker = CircuitBreaker("redis-test")
        hub = PubSubHub(Redis.from_url(redis_url), breaker)
        shared = RedisCache(redis, breaker, timeout=1.0)
        near = NearCache(shared, hub, local_ttl=2.0, clock=clock)
        await near.start()
        made.append(Instance(redis, hub, shared, near))
    yield made[0], made[1]
    for instance in made:
        await instance.close()


async def eventually(check: Callable[[], Any], timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


async def test_a_copy_is_served_without_redis_until_another_instance_deletes_the_key(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    await b.near.set(KEY, ACTIVE, 300)
    assert await a.near.get(KEY, UserAccessState) == ACTIVE  # read from Redis, copy kept
    # Changed in Redis behind the near caches' backs: A still answers from its copy ...
    await b.shared.set(KEY, INACTIVE, 300)
    assert await a.near.get(KEY, UserAccessState) == ACTIVE
    # ... until an instance deletes the key (what a use case does after changing a user): then A drops
    # its copy as soon as it hears of it, and reads the current value.
    await b.shared.set(KEY, INACTIVE, 300)
    await b.near.delete(KEY)
    await b.shared.set(KEY, INACTIVE, 300)  # the next reader's fill

    async def sees_the_change() -> bool:
        return await a.near.get(KEY, UserAccessState) == INACTIVE

    await eventually(sees_the_change)


async def test_the_deleting_instance_drops_its_own_copy_at_once(instances: tuple[Instance, Instance]) -> None:
    a, _ = instances
    await a.near.set(KEY, ACTIVE, 300)
    await a.near.delete(KEY)
    assert await a.near.get(KEY, UserAccessState) is None


async def test_a_prefix_delete_drops_every_copy_under_it(instances: tuple[Instance, Instance]) -> None:
    a, b = instances
    for key in (KEY, "identity:access:b", "other:x"):
        await a.near.set(key, ACTIVE, 300)
    await b.near.delete_prefix("identity:")

    async def gone() -> bool:
        return (
            await a.near.get(KEY, UserAccessState) is None
            and await a.near.get("identity:access:b", UserAccessState) is None
        )

    await eventually(gone)
    assert await a.near.get("other:x", UserAccessState) == ACTIVE


async def test_a_copy_lives_only_local_ttl_seconds(instances: tuple[Instance, Instance], clock: Clock) -> None:
    a, b = instances
    await b.near.set(KEY, ACTIVE, 300)
    assert await a.near.get(KEY, UserAccessState) == ACTIVE
    await b.shared.set(KEY, INACTIVE, 300)  # no delete: only the copy's age can end it
    clock.now += 1.9
    assert await a.near.get(KEY, UserAccessState) == ACTIVE
    clock.now += 0.2
    assert await a.near.get(KEY, UserAccessState) == INACTIVE


async def test_copies_made_before_a_reconnect_are_not_served_after_it(instances: tuple[Instance, Instance]) -> None:
    a, b = instances
    await b.near.set(KEY, ACTIVE, 300)
    assert await a.near.get(KEY, UserAccessState) == ACTIVE
    await b.shared.set(KEY, INACTIVE, 300)
    # The listener lost its connection and made a new one (as ``PubSubHub._listen`` counts them):
    # invalidations sent in between may have been missed.
    a.hub.sessions += 1
    assert await a.near.get(KEY, UserAccessState) == INACTIVE
    # While the subscription is down nothing is served from memory at all.
    a.hub.connected = False
    await b.shared.set(KEY, ACTIVE, 300)
    assert await a.near.get(KEY, UserAccessState) == ACTIVE
    await b.shared.set(KEY, INACTIVE, 300)
    assert await a.near.get(KEY, UserAccessState) == INACTIVE


async def test_a_read_that_raced_an_invalidation_keeps_no_copy(instances: tuple[Instance, Instance]) -> None:
    a, b = instances
    await b.shared.set(KEY, ACTIVE, 300)
    shared_get = a.shared.get

    async def slow_get(key: str, type_: type[T]) -> T | None:
        value = await shared_get(key, type_)  # the old value ...
        a.near._heard(b'{"keys": ["identity:access:a"]}')  # ... and the invalidation arrives meanwhile
        return value

    a.shared.get = slow_get  # type: ignore[method-assign]
    assert await a.near.get(KEY, UserAccessState) == ACTIVE
    a.shared.get = shared_get  # type: ignore[method-assign]
    await b.shared.set(KEY, INACTIVE, 300)
    assert await a.near.get(KEY, UserAccessState) == INACTIVE  # no stale copy was kept


async def test_an_unreadable_invalidation_drops_every_copy(instances: tuple[Instance, Instance]) -> None:
    a, b = instances
    await a.near.set(KEY, ACTIVE, 300)
    await b.shared.set(KEY, INACTIVE, 300)
    a.near._heard(b"not json")
    assert await a.near.get(KEY, UserAccessState) == INACTIVE
