"""The in-process cache: expiry, the LRU bound, and values that callers cannot change once cached."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec
import pytest

from src.infrastructure.cache.memory_cache import MemoryCache


class Article(msgspec.Struct):
    id: UUID
    title: str
    tags: list[str]
    published_at: datetime


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


ARTICLE = Article(
    id=UUID("01937a8e-0000-7000-8000-000000000001"),
    title="Caching",
    tags=["redis", "msgspec"],
    published_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def cache(clock: ManualClock) -> MemoryCache:
    return MemoryCache(max_entries=3, clock=clock)


async def test_a_value_comes_back_as_the_type_asked_for(cache: MemoryCache) -> None:
    await cache.set("article", ARTICLE, 60)
    await cache.set("counts", {"a": 1, "b": 2}, 60)
    assert await cache.get("article", Article) == ARTICLE
    assert await cache.get("counts", dict[str, int]) == {"a": 1, "b": 2}
    assert await cache.get("absent", Article) is None


async def test_an_entry_expires_after_its_ttl(cache: MemoryCache, clock: ManualClock) -> None:
    await cache.set("article", ARTICLE, 10)
    clock.now += 9.9
    assert await cache.get("article", Article) == ARTICLE
    clock.now += 0.1
    assert await cache.get("article", Article) is None
    assert len(cache) == 0


async def test_the_least_recently_used_entry_is_evicted_beyond_the_bound(cache: MemoryCache) -> None:
    for key in ("a", "b", "c"):
        await cache.set(key, key.upper(), 60)
    assert await cache.get("a", str) == "A"  # now "b" is the least recently used
    await cache.set("d", "D", 60)

    assert len(cache) == 3
    assert await cache.get("b", str) is None
    assert [await cache.get(k, str) for k in ("a", "c", "d")] == ["A", "C", "D"]


async def test_callers_cannot_change_a_cached_value(cache: MemoryCache) -> None:
    original = {"items": [1, 2, 3]}
    await cache.set("list", original, 60)
    original["items"].append(4)  # the caller's object, after caching it

    first = await cache.get("list", dict[str, list[int]])
    assert first == {"items": [1, 2, 3]}
    assert first is not None
    first["items"].clear()  # what one caller got back
    assert await cache.get("list", dict[str, list[int]]) == {"items": [1, 2, 3]}


async def test_a_value_that_no_longer_decodes_is_a_miss_and_is_dropped(cache: MemoryCache) -> None:
    await cache.set("article", {"title": "no id, no tags"}, 60)
    assert await cache.get("article", Article) is None
    assert len(cache) == 0


async def test_delete_and_delete_prefix(cache: MemoryCache) -> None:
    await cache.set("articles:1", 1, 60)
    await cache.set("articles:2", 2, 60)
    await cache.set("authors:1", 3, 60)
    assert await cache.delete_prefix("articles:") == 2
    assert await cache.get("authors:1", int) == 3
    await cache.delete("authors:1", "never-there")
    assert len(cache) == 0


async def test_a_zero_ttl_removes_the_entry(cache: MemoryCache) -> None:
    await cache.set("k", 1, 60)
    await cache.set("k", 2, 0)
    assert await cache.get("k", int) is None


async def test_an_unencodable_value_raises_and_leaves_the_entry_alone(cache: MemoryCache) -> None:
    await cache.set("k", 1, 60)
    with pytest.raises(TypeError):
        await cache.set("k", object(), 60)
    assert await cache.get("k", int) == 1
