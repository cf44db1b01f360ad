"""Circuit breakers for model providers (``ProviderBreakers``): per process, or shared through Redis.

The rules are ``ProviderCircuit``'s (src/domain/llm/routing.py): one circuit per model
(``provider/model``), so a broken model never takes its provider's healthy models down; it opens
when at least ``min_calls`` calls ended in its window and ``failure_rate`` of them failed, stays
open for ``reset_after`` seconds, then the next real call goes through as the probe.

- ``LocalProviderBreakers`` keeps the state in this process (no Redis, or Redis unreachable).
- ``RedisProviderBreakers`` keeps it in Redis (hash ``parley:llm:breaker:<provider>/<model>``), every
  change one atomic Lua script on the Redis server's clock, so all instances see one state: a model
  that failed for the instances is skipped by all, and only one probe goes out across them.
- ``SharedProviderBreakers`` asks Redis through the process's Redis circuit breaker, under the Redis
  timeout, and decides with its per-process breakers when Redis cannot answer: Redis being down never
  takes model calls down. Verdicts are recorded in both, so the local state is warm when needed.

Each breaker's state is exported as ``parley_circuit_breaker_state{breaker="llm:<provider>/<model>"}``; its
opening and closing are logged once (``circuit_opened``, ``circuit_closed``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from src.domain.llm.routing import (
    DEFAULT_BREAKER_FAILURE_RATE,
    DEFAULT_BREAKER_WINDOW,
    CircuitPosition,
    ProviderCircuit,
)
from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.resilience import CircuitBreaker

if TYPE_CHECKING:
    from redis.asyncio import Redis

KEY_PREFIX = "parley:llm:breaker:"
_POSITION_VALUE = {CircuitPosition.CLOSED: 0, CircuitPosition.HALF_OPEN: 1, CircuitPosition.OPEN: 2}
_POSITIONS = {value: position for position, value in _POSITION_VALUE.items()}

_T = TypeVar("_T")
logger = get_logger("parley.llm")


def breaker_name(provider: str) -> str:
    return f"llm:{provider}"


class BreakerReporter:
    """Exports each provider's breaker state and logs when one opens or closes."""

    def __init__(self, reset_after: float) -> None:
        self._reset_after = reset_after
        self._last: dict[str, CircuitPosition] = {}

    def observe(self, provider: str, position: CircuitPosition) -> None:
        METRICS.breaker_state.labels(breaker_name(provider)).set(_POSITION_VALUE[position])
        last = self._last.get(provider, CircuitPosition.CLOSED)
        self._last[provider] = position
        if position is last or position is CircuitPosition.HALF_OPEN:
            return
        if position is CircuitPosition.OPEN:
            logger.warning("circuit_opened", breaker=breaker_name(provider), retry_in_s=self._reset_after)
        elif last is not CircuitPosition.CLOSED:
            logger.info("circuit_closed", breaker=breaker_name(provider))


class LocalProviderBreakers:
    def __init__(
        self,
        *,
        min_calls: int,
        reset_after: float,
        failure_rate: float = DEFAULT_BREAKER_FAILURE_RATE,
        window: float = DEFAULT_BREAKER_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        reporter: BreakerReporter | None = None,
    ) -> None:
        self._min_calls = min_calls
        self._failure_rate = failure_rate
        self._window = window
        self._reset_after = reset_after
        self._clock = clock
        self._reporter = reporter
        self._circuits: dict[str, ProviderCircuit] = {}

    async def flush(self) -> None:
        """Nothing waits to be reported: the state is this process's."""

    def _circuit(self, provider: str) -> ProviderCircuit:
        circuit = self._circuits.get(provider)
        if circuit is None:
            circuit = self._circuits[provider] = ProviderCircuit(
                min_calls=self._min_calls,
                reset_after=self._reset_after,
                failure_rate=self._failure_rate,
                window=self._window,
            )
        return circuit

    def position(self, provider: str) -> CircuitPosition:
        return self._circuit(provider).position(self._clock())

    def _report(self, provider: str) -> None:
        if self._reporter is not None:
            self._reporter.observe(provider, self.position(provider))

    async def allow(self, provider: str) -> bool:
        allowed = self._circuit(provider).allow(self._clock())
        self._report(provider)
        return allowed

    async def record_success(self, provider: str) -> None:
        self._circuit(provider).record_success(self._clock())
        self._report(provider)

    async def record_failure(self, provider: str) -> None:
        self._circuit(provider).record_failure(self._clock())
        self._report(provider)

    async def release(self, provider: str) -> None:
        self._circuit(provider).release()


# KEYS[1]: the model's hash. ARGV: op (allow | success | failure | release), min calls, failure rate,
# window and reset_after in microseconds, key TTL in milliseconds, and for success the number of
# successful calls reported at once (default 1). -1 stands for "not set".
# Returns {allowed (0|1), position (0 closed, 1 half-open, 2 open), failures in the window}.
# The same rules as ProviderCircuit (src/domain/llm/routing.py).
BREAKER_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local op = ARGV[1]
local min_calls = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local reset = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'calls', 'failures', 'window_at', 'opened_at', 'probe_at')
local calls = tonumber(state[1]) or 0
local failures = tonumber(state[2]) or 0
local window_at = tonumber(state[3]) or -1
local opened = tonumber(state[4]) or -1
local probe = tonumber(state[5]) or -1
local allowed = 1
local changed = false
local function position()
  if opened < 0 then return 0 end
  if now - opened >= reset then return 1 end
  return 2
end
local function count(failed, n)
  if window_at < 0 or now - window_at >= window then
    window_at = now
    calls = 0
    failures = 0
  end
  calls = calls + n
  if failed then failures = failures + 1 end
  changed = true
end
if op == 'allow' then
  local p = position()
  if p == 2 then
    allowed = 0
  elseif p == 1 then
    if probe >= 0 and now - probe < reset then
      allowed = 0
    else
      probe = now
      changed = true
    end
  end
elseif op == 'success' then
  probe = -1
  if opened >= 0 then
    opened = -1
    window_at = -1
  end
  count(false, tonumber(ARGV[7]) or 1)
elseif op == 'failure' then
  probe = -1
  changed = true
  if opened >= 0 then
    opened = now
  else
    count(true, 1)
    if calls >= min_calls and failures >= rate * calls then
      opened = now
    end
  end
elseif op == 'release' then
  if probe >= 0 then
    probe = -1
    changed = true
  end
end
if changed then
  redis.call('HSET', KEYS[1], 'calls', string.format('%d', calls), 'failures', string.format('%d', failures),
    'window_at', string.format('%d', window_at), 'opened_at', string.format('%d', opened),
    'probe_at', string.format('%d', probe))
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
return {allowed, position(), failures}
"""


class RedisProviderBreakers:
    """The breakers' state in Redis; raises whatever the Redis client raises."""

    def __init__(
        self,
        client: Redis,
        *,
        min_calls: int,
        reset_after: float,
        failure_rate: float = DEFAULT_BREAKER_FAILURE_RATE,
        window: float = DEFAULT_BREAKER_WINDOW,
        reporter: BreakerReporter | None = None,
        prefix: str = KEY_PREFIX,
    ) -> None:
        self._script = client.register_script(BREAKER_SCRIPT)
        self._min_calls = min_calls
        self._failure_rate = repr(failure_rate)
        self._window_us = round(window * 1_000_000)
        self._reset_us = round(reset_after * 1_000_000)
        # Long enough to outlive an open circuit and a window; a forgotten one starts again from zero.
        self._ttl_ms = round(max(reset_after * 4, window * 2, 600.0) * 1000)
        self._reporter = reporter
        self._prefix = prefix

    async def _run(self, provider: str, op: str, calls: int = 1) -> tuple[bool, CircuitPosition, int]:
        allowed, position, failures = await self._script(
            keys=[self._prefix + provider],
            args=[op, self._min_calls, self._failure_rate, self._window_us, self._reset_us, self._ttl_ms, calls],
        )
        where = _POSITIONS[int(position)]
        if self._reporter is not None:
            self._reporter.observe(provider, where)
        return bool(allowed), where, int(failures)

    async def allow(self, provider: str) -> bool:
        allowed, _, _ = await self._run(provider, "allow")
        return allowed

    async def check(self, provider: str) -> tuple[bool, CircuitPosition]:
        """``allow``, with the circuit's position it was decided in."""
        allowed, position, _ = await self._run(provider, "allow")
        return allowed, position

    async def record_success(self, provider: str, calls: int = 1) -> None:
        # Successes count too: the failure rate is over every call.
        await self._run(provider, "success", calls)

    async def record_failure(self, provider: str) -> None:
        await self._run(provider, "failure")

    async def release(self, provider: str) -> None:
        await self._run(provider, "release")


#: How long a circuit Redis said was closed is taken as closed without asking again (until this
#: process sees a failure of that model): another instance's opening reaches this one within it.
CLOSED_VIEW_SECONDS = 0.5
#: At most one report of a model's successes to Redis per this many seconds (per process).
SUCCESS_REPORT_SECONDS = 0.25


class SharedProviderBreakers:
    """Redis first; this process's breakers when Redis cannot answer within ``timeout``.

    Two round trips per model call (allow, then success) were ~10% of the gateway's CPU at 20
    concurrent streams, so: a circuit Redis just said was closed is allowed without asking for
    ``CLOSED_VIEW_SECONDS`` (a failure seen here asks again at once), and successes are reported in
    batches: at most one report per model every ``report_every`` seconds (``SUCCESS_REPORT_SECONDS``),
    the successes that arrive meanwhile sent together with the next one, by a timer of its own. Reported
    at once were still ~0.7 reports per reply at 20 concurrent chat replies (a report barely outlives
    a reply), ~5 % of a reply's CPU. A failure sends the successes waiting before it, so the rate the
    instances see counts them. An opening, a probe and its outcome always go to Redis at once.
    """

    def __init__(
        self,
        shared: RedisProviderBreakers,
        local: LocalProviderBreakers,
        redis_breaker: CircuitBreaker,
        *,
        timeout: float,
        reporter: BreakerReporter | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        report_every: float = SUCCESS_REPORT_SECONDS,
    ) -> None:
        self._shared = shared
        self._local = local
        self._redis_breaker = redis_breaker
        self._timeout = timeout
        self._reporter = reporter
        self._monotonic = monotonic
        #: Until when (monotonic) each model's circuit is taken as closed without asking Redis.
        self._closed_until: dict[str, float] = {}
        #: Successes not reported to Redis yet; the models with a report in flight or due; when each
        #: model's last report went out (monotonic); the timers of the reports due, and their tasks.
        self._unreported: dict[str, int] = {}
        self._reporting: set[str] = set()
        self._reported_at: dict[str, float] = {}
        self._report_every = report_every
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._timed: set[asyncio.Future[None]] = set()

    async def _either(self, shared: Callable[[], Awaitable[_T]], local: Callable[[], Awaitable[_T]]) -> _T:
        async def remote() -> _T:
            async with asyncio.timeout(self._timeout):
                return await shared()

        return await self._redis_breaker.call(remote, local)

    async def allow(self, provider: str) -> bool:
        async def local() -> bool:
            allowed = await self._local.allow(provider)
            if self._reporter is not None:
                self._reporter.observe(provider, self._local.position(provider))
            return allowed

        if self._closed_until.get(provider, 0.0) > self._monotonic():
            return True

        async def shared() -> bool:
            allowed, position = await self._shared.check(provider)
            if position is CircuitPosition.CLOSED:
                self._closed_until[provider] = self._monotonic() + CLOSED_VIEW_SECONDS
            return allowed

        return await self._either(shared, local)

    async def record_success(self, provider: str) -> None:
        await self._local.record_success(provider)
        self._unreported[provider] = self._unreported.get(provider, 0) + 1
        if provider in self._reporting:
            return  # the report under way, or the one due, carries this success too
        wait = self._reported_at.get(provider, -self._report_every) + self._report_every - self._monotonic()
        if wait <= 0:
            await self._report(provider)
        else:
            self._report_later(provider, wait)

    async def record_failure(self, provider: str) -> None:
        self._closed_until.pop(provider, None)
        await self._local.record_failure(provider)
        await self._send_successes(provider)  # the rate the instances see counts them
        await self._either(lambda: self._shared.record_failure(provider), _nothing)

    async def release(self, provider: str) -> None:
        await self._local.release(provider)
        await self._either(lambda: self._shared.release(provider), _nothing)

    async def flush(self) -> None:
        """Report every success still waiting for its timed report, now (shutdown, tests)."""
        for provider, handle in self._timers.items():
            handle.cancel()
            self._reporting.discard(provider)  # no report is due any more: the next success is sent anew
        self._timers.clear()
        for provider in list(self._unreported):
            await self._send_successes(provider)
        if self._timed:
            await asyncio.wait(self._timed)

    async def _report(self, provider: str) -> None:
        """Report the successes waiting; those arriving while this report is in flight are timed."""
        self._reporting.add(provider)
        try:
            await self._send_successes(provider)
        finally:
            self._reporting.discard(provider)
        if self._unreported.get(provider):
            self._report_later(provider, self._report_every)

    async def _send_successes(self, provider: str) -> None:
        if calls := self._unreported.pop(provider, 0):
            self._reported_at[provider] = self._monotonic()
            await self._either(functools.partial(self._shared.record_success, provider, calls), _nothing)

    def _report_later(self, provider: str, delay: float) -> None:
        self._reporting.add(provider)
        self._timers[provider] = asyncio.get_running_loop().call_later(delay, self._timed_report, provider)

    def _timed_report(self, provider: str) -> None:
        self._timers.pop(provider, None)
        self._reporting.discard(provider)
        task = asyncio.ensure_future(self._report(provider))
        self._timed.add(task)  # a reference until it is done (the loop keeps only weak ones)
        task.add_done_callback(self._timed.discard)


async def _nothing() -> None:
    return None
