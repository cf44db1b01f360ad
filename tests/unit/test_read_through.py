"""The read-through helper: cached values, one fill per key under a burst, failures not cached."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from src.application.shared.read_through import ReadThrough
from tests.fakes.cache import FakeCache, RecordingCacheStats

BURST = 100


@dataclass(frozen=True)
class Profile:
    user_id: int
    name: str


class Boom(Exception):
    pass


class GatedFill:
    """A fill that waits for ``open()``, then returns a profile (or raises); counts its runs."""

    def __init__(self, *, fails: bool = False) -> None:
        self.runs = 0
        self.gate = asyncio.Event()
        self.fails = fails

    async def __call__(self) -> Profile:
        self.runs += 1
        await self.gate.wait()
        if self.fails:
            raise Boom("the database went away")
        return Profile(user_id=7, name=f"fill #{self.runs}")


@pytest.fixture
def cache() -> FakeCache:
    return FakeCache()


@pytest.fixture
def stats() -> RecordingCacheStats:
    return RecordingCacheStats()


@pytest.fixture
def reads(cache: FakeCache, stats: RecordingCacheStats) -> ReadThrough:
    return ReadThrough(cache, name="profiles", default_ttl=60, stats=stats)


async def until(condition, limit: int = 10_000) -> None:  # type: ignore[no-untyped-def]
    """Let the other tasks run until ``condition()`` holds."""
    for _ in range(limit):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def test_a_burst_of_concurrent_callers_runs_fill_once(
    reads: ReadThrough, cache: FakeCache, stats: RecordingCacheStats
) -> None:
    fill = GatedFill()
    callers = [asyncio.create_task(reads.get_or_fill("7", Profile, None, fill)) for _ in range(BURST)]
    # Every caller has looked and is waiting before the fill may finish.
    await until(lambda: len(stats.lookups) == BURST)
    fill.gate.set()
    results = await asyncio.gather(*callers)

    assert fill.runs == 1
    assert results == [Profile(user_id=7, name="fill #1")] * BURST
    assert cache.values == {"profiles:7": Profile(user_id=7, name="fill #1")}
    assert stats.count("profiles", hit=False) == 1
    assert stats.count("profiles", hit=True) == BURST - 1


async def test_a_failing_fill_reaches_every_waiter_and_caches_nothing(
    reads: ReadThrough, cache: FakeCache, stats: RecordingCacheStats
) -> None:
    failing = GatedFill(fails=True)
    callers = [asyncio.create_task(reads.get_or_fill("7", Profile, None, failing)) for _ in range(BURST)]
    await until(lambda: len(stats.lookups) == BURST)
    failing.gate.set()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)

    assert failing.runs == 1
    assert all(isinstance(outcome, Boom) for outcome in outcomes)
    assert cache.values == {}

    # The next call tries again, and the one after that is served from the cache.
    working = GatedFill()
    working.gate.set()
    assert await reads.get_or_fill("7", Profile, None, working) == Profile(user_id=7, name="fill #1")
    assert await reads.get_or_fill("7", Profile, None, working) == Profile(user_id=7, name="fill #1")
    assert working.runs == 1


async def test_later_calls_hit_the_cache_without_filling(reads: ReadThrough, stats: RecordingCacheStats) -> None:
    fill = GatedFill()
    fill.gate.set()
    first = await reads.get_or_fill("7", Profile, None, fill)
    again = await reads.get_or_fill("7", Profile, None, fill)
    other = await reads.get_or_fill("8", Profile, None, fill)

    assert first == again == Profile(user_id=7, name="fill #1")
    assert other == Profile(user_id=7, name="fill #2")
    assert fill.runs == 2
    assert stats.lookups == [("profiles", False), ("profiles", True), ("profiles", False)]


async def test_ttl_defaults_to_the_helpers_default(reads: ReadThrough, cache: FakeCache) -> None:
    fill = GatedFill()
    fill.gate.set()
    await reads.get_or_fill("default", Profile, None, fill)
    await reads.get_or_fill("short", Profile, 5, fill)
    assert cache.ttls == {"profiles:default": 60, "profiles:short": 5}


async def test_none_from_fill_is_returned_but_not_cached(reads: ReadThrough, cache: FakeCache) -> None:
    runs = 0

    async def nothing() -> Profile | None:
        nonlocal runs
        runs += 1
        return None

    assert await reads.get_or_fill("ghost", Profile, None, nothing) is None  # type: ignore[arg-type]
    assert await reads.get_or_fill("ghost", Profile, None, nothing) is None  # type: ignore[arg-type]
    assert runs == 2
    assert cache.values == {}


async def test_a_cancelled_caller_leaves_the_fill_running_for_the_others(
    reads: ReadThrough, stats: RecordingCacheStats
) -> None:
    fill = GatedFill()
    first = asyncio.create_task(reads.get_or_fill("7", Profile, None, fill))
    await until(lambda: fill.runs == 1)
    second = asyncio.create_task(reads.get_or_fill("7", Profile, None, fill))
    await until(lambda: len(stats.lookups) == 2)  # the second caller joined the fill under way
    first.cancel()
    fill.gate.set()

    assert await second == Profile(user_id=7, name="fill #1")
    assert first.cancelled()
    assert fill.runs == 1


async def test_invalidate_makes_the_next_call_fill_again(reads: ReadThrough, cache: FakeCache) -> None:
    fill = GatedFill()
    fill.gate.set()
    await reads.get_or_fill("7", Profile, None, fill)
    await reads.get_or_fill("8", Profile, None, fill)
    await reads.invalidate("7")

    assert await reads.get_or_fill("7", Profile, None, fill) == Profile(user_id=7, name="fill #3")
    assert await reads.get_or_fill("8", Profile, None, fill) == Profile(user_id=7, name="fill #2")

    assert await reads.invalidate_prefix() == 2
    assert cache.values == {}


async def test_a_fill_under_way_during_invalidation_does_not_store_stale_data(
    reads: ReadThrough, cache: FakeCache
) -> None:
    stale = GatedFill()
    reading = asyncio.create_task(reads.get_or_fill("7", Profile, None, stale))
    await until(lambda: stale.runs == 1)
    await reads.invalidate("7")  # the data changed while the fill was reading it
    stale.gate.set()
    assert await reading == Profile(user_id=7, name="fill #1")  # that caller asked before the change
    assert cache.values == {}

    fresh = GatedFill()
    fresh.gate.set()
    assert await reads.get_or_fill("7", Profile, None, fresh) == Profile(user_id=7, name="fill #1")
    assert fresh.runs == 1


def test_a_name_is_required_and_has_no_separator(cache: FakeCache) -> None:
    with pytest.raises(ValueError):
        ReadThrough(cache, name="", default_ttl=60)
    with pytest.raises(ValueError):
        ReadThrough(cache, name="a:b", default_ttl=60)
