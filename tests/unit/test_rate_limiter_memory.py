"""The per-process GCRA limiter, on a fake clock: bursts, refills, retry and reset times, eviction."""

from __future__ import annotations

import asyncio

import pytest

from src.domain.shared.rate_limit import RateLimitPolicy
from src.infrastructure.rate_limit.memory_limiter import MemoryRateLimiter
from src.infrastructure.rate_limit.policies import RateLimitPolicies, build_policies
from src.infrastructure.rate_limit.resilient import ResilientRateLimiter
from src.infrastructure.resilience import CircuitBreaker
from tests.conftest import SettingsFactory
from tests.fakes.shared import FakeClock

# Five per minute: one hit's allowance comes back every 12 seconds.
LIMIT, WINDOW, INTERVAL = 5, 60.0, 12.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> MemoryRateLimiter:
    return MemoryRateLimiter(clock=clock.monotonic)


async def hits(limiter: MemoryRateLimiter, count: int, key: str = "k") -> list[bool]:
    return [(await limiter.hit(key, LIMIT, WINDOW)).allowed for _ in range(count)]


async def test_a_burst_up_to_the_limit_is_allowed_and_the_next_hit_is_not(limiter: MemoryRateLimiter) -> None:
    decisions = [await limiter.hit("k", LIMIT, WINDOW) for _ in range(LIMIT + 1)]

    assert [d.allowed for d in decisions] == [True] * LIMIT + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    assert all(d.limit == LIMIT for d in decisions)


@pytest.mark.parametrize(("limit", "window"), [(7, 60.0), (3, 1.0), (50, 3600.0), (1000, 1.0), (13, 0.37)])
async def test_a_burst_is_exactly_the_limit_whatever_the_rate(clock: FakeClock, limit: int, window: float) -> None:
    limiter = MemoryRateLimiter(clock=clock.monotonic)
    allowed = [(await limiter.hit("k", limit, window)).allowed for _ in range(limit + 3)]
    assert allowed == [True] * limit + [False] * 3


async def test_allowance_comes_back_one_hit_per_interval(limiter: MemoryRateLimiter, clock: FakeClock) -> None:
    await hits(limiter, LIMIT)

    clock.advance(INTERVAL - 0.001)
    assert await hits(limiter, 1) == [False]
    clock.advance(0.001)
    assert await hits(limiter, 2) == [True, False]

    clock.advance(WINDOW)
    assert await hits(limiter, LIMIT + 1) == [True] * LIMIT + [False]


async def test_retry_after_says_when_the_next_hit_will_succeed(limiter: MemoryRateLimiter, clock: FakeClock) -> None:
    await hits(limiter, LIMIT)

    rejected = await limiter.hit("k", LIMIT, WINDOW)
    assert rejected.retry_after == pytest.approx(INTERVAL)
    assert rejected.retry_after_header == 12

    clock.advance(4.5)
    rejected = await limiter.hit("k", LIMIT, WINDOW)
    assert rejected.retry_after == pytest.approx(7.5)
    assert rejected.retry_after_header == 8  # rounded up, never early

    clock.advance(rejected.retry_after)
    allowed = await limiter.hit("k", LIMIT, WINDOW)
    assert allowed.allowed
    assert allowed.retry_after == 0


async def test_reset_after_says_when_the_full_allowance_is_back(limiter: MemoryRateLimiter, clock: FakeClock) -> None:
    first = await limiter.hit("k", LIMIT, WINDOW)
    assert first.reset_after == pytest.approx(INTERVAL)

    for _ in range(LIMIT - 1):
        last = await limiter.hit("k", LIMIT, WINDOW)
    assert last.reset_after == pytest.approx(WINDOW)

    clock.advance(30)
    later = await limiter.hit("k", LIMIT, WINDOW)  # 30 s later: 2 hits are back, this takes one
    assert later.allowed
    assert later.reset_after == pytest.approx(WINDOW - 30 + INTERVAL)

    clock.advance(later.reset_after)
    assert await hits(limiter, LIMIT + 1) == [True] * LIMIT + [False]


async def test_rejected_hits_are_not_counted(limiter: MemoryRateLimiter, clock: FakeClock) -> None:
    await hits(limiter, LIMIT)
    assert await hits(limiter, 50) == [False] * 50  # hammering while limited...

    clock.advance(INTERVAL)
    assert await hits(limiter, 1) == [True]  # ...does not push the next allowance further away


async def test_a_costly_hit_takes_several_units(limiter: MemoryRateLimiter) -> None:
    first = await limiter.hit("k", LIMIT, WINDOW, cost=3)
    assert (first.allowed, first.remaining) == (True, 2)

    second = await limiter.hit("k", LIMIT, WINDOW, cost=3)
    assert (second.allowed, second.remaining) == (False, 2)
    assert second.retry_after == pytest.approx(INTERVAL)  # one more unit is needed

    third = await limiter.hit("k", LIMIT, WINDOW, cost=2)
    assert (third.allowed, third.remaining) == (True, 0)


async def test_keys_are_limited_independently(limiter: MemoryRateLimiter) -> None:
    await hits(limiter, LIMIT, key="a")
    assert await hits(limiter, 1, key="a") == [False]
    assert await hits(limiter, 1, key="b") == [True]


@pytest.mark.parametrize(
    ("limit", "window", "cost"), [(0, 60.0, 1), (5, 0.0, 1), (5, -1.0, 1), (5, 60.0, 0), (5, 60.0, 6)]
)
async def test_impossible_checks_are_refused(limiter: MemoryRateLimiter, limit: int, window: float, cost: int) -> None:
    with pytest.raises(ValueError):
        await limiter.hit("k", limit, window, cost=cost)


async def test_keys_back_to_their_full_allowance_are_evicted(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(clock=clock.monotonic, sweep_interval=10)
    for n in range(100):
        await limiter.hit(f"client-{n}", LIMIT, WINDOW)
    assert len(limiter) == 100

    clock.advance(INTERVAL + 1)  # every key has its allowance back
    await limiter.hit("latest", LIMIT, WINDOW)

    assert len(limiter) == 1


async def test_memory_stays_bounded_and_the_busiest_keys_are_kept(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(clock=clock.monotonic, max_keys=20, sweep_interval=3600)
    await hits(limiter, LIMIT, key="hot")

    for n in range(200):
        await limiter.hit(f"client-{n}", LIMIT, WINDOW)
        assert len(limiter) <= 20

    assert await hits(limiter, 1, key="hot") == [False]  # still limited: its state was not dropped


async def test_the_resilient_limiter_decides_locally_when_the_shared_one_hangs(clock: FakeClock) -> None:
    class Hanging:
        async def hit(self, key: str, limit: int, window_seconds: float, *, cost: int = 1) -> object:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    fallback = MemoryRateLimiter(clock=clock.monotonic)
    breaker = CircuitBreaker("unit-test-redis", failure_threshold=2, reset_after=60)
    limiter = ResilientRateLimiter(Hanging(), fallback, breaker, timeout=0.01)  # type: ignore[arg-type]

    async with asyncio.timeout(5):  # a hang detector, not a timing assertion
        decisions = [await limiter.hit("k", 2, WINDOW) for _ in range(3)]

    assert [d.allowed for d in decisions] == [True, True, False]
    assert breaker.state == "open"


async def test_the_resilient_limiter_raises_bad_arguments_instead_of_blaming_redis() -> None:
    class Healthy:
        async def hit(self, key: str, limit: int, window_seconds: float, *, cost: int = 1) -> object:
            raise AssertionError("not called for bad arguments")

    breaker = CircuitBreaker("unit-test-redis-args", failure_threshold=1, reset_after=60)
    limiter = ResilientRateLimiter(Healthy(), MemoryRateLimiter(), breaker, timeout=1)  # type: ignore[arg-type]

    with pytest.raises(ValueError):
        await limiter.hit("k", 5, WINDOW, cost=6)
    assert breaker.state == "closed"


def test_policies_come_from_settings(make_settings: SettingsFactory) -> None:
    policies = build_policies(make_settings(RATE_LIMIT_ANON_PER_MINUTE=7, RATE_LIMIT_USER_PER_MINUTE=70))

    assert (policies.anonymous.limit, policies.anonymous.window_seconds) == (7, 60.0)
    assert (policies.user.limit, policies.user.window_seconds) == (70, 60.0)
    assert (policies["login"].limit, policies["login"].window_seconds) == (5, 900.0)
    assert (policies["register"].limit, policies["register"].window_seconds) == (5, 3600.0)
    assert policies["ai_free"].limit < policies["ai_pro"].limit


def test_policies_must_include_the_defaults_and_be_filed_under_their_names() -> None:
    anonymous = RateLimitPolicy("anonymous", 1, 60)
    with pytest.raises(ValueError, match="user"):
        RateLimitPolicies({"anonymous": anonymous})
    with pytest.raises(ValueError, match="registered as"):
        RateLimitPolicies({"anonymous": anonymous, "user": anonymous})


async def test_peek_answers_like_the_next_hit_and_records_nothing(limiter: MemoryRateLimiter, clock: FakeClock) -> None:
    assert (await limiter.peek("k", LIMIT, WINDOW)).allowed
    assert await hits(limiter, LIMIT) == [True] * LIMIT  # peeking spent none of the allowance

    peeked = await limiter.peek("k", LIMIT, WINDOW)
    assert not peeked.allowed
    assert peeked.retry_after == INTERVAL
    assert await hits(limiter, 1) == [False]

    clock.advance(INTERVAL)
    assert (await limiter.peek("k", LIMIT, WINDOW)).allowed
    assert await hits(limiter, 2) == [True, False]


async def test_the_resilient_limiter_peeks_locally_when_the_shared_one_fails(clock: FakeClock) -> None:
    class Down:
        async def peek(self, key: str, limit: int, window_seconds: float) -> object:
            raise ConnectionError("redis is down")

        async def hit(self, key: str, limit: int, window_seconds: float, *, cost: int = 1) -> object:
            raise ConnectionError("redis is down")

    fallback = MemoryRateLimiter(clock=clock.monotonic)
    breaker = CircuitBreaker("unit-test-redis-peek", failure_threshold=5, reset_after=60)
    limiter = ResilientRateLimiter(Down(), fallback, breaker, timeout=1)  # type: ignore[arg-type]

    assert [(await limiter.hit("k", 2, WINDOW)).allowed for _ in range(2)] == [True, True]
    assert not (await limiter.peek("k", 2, WINDOW)).allowed
