"""The shared rate limiter: GCRA in one Lua script, so every check is one atomic round trip.

Each limiter key is one Redis string holding the key's theoretical arrival time in microseconds,
under ``parley:rl:<key>``, expiring when the key is back to its full allowance. The script reads
the time from the Redis server (``TIME``), so API instances whose clocks disagree still agree on
every decision, and runs atomically, so concurrent checks from any number of instances never
let more than the limit through. The arithmetic mirrors ``gcra.decide``.

This adapter raises whatever the Redis client raises; ``ResilientRateLimiter`` turns failures
into per-process decisions.
"""

from __future__ import annotations

from redis.asyncio import Redis

from src.domain.shared.rate_limit import RateDecision
from src.infrastructure.rate_limit.gcra import MICROS, parameters

KEY_PREFIX = "parley:rl:"

# KEYS[1]: the limiter key. ARGV: interval_us, burst_us, increment_us (see gcra.parameters), and
# record (1: count the hit when allowed; 0: only say what one more hit would get).
# Returns {allowed (0|1), remaining, reset_us, retry_us}.
GCRA_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local increment = tonumber(ARGV[3])
local record = ARGV[4] == '1'
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local new_tat = tat + increment
local allow_at = new_tat - burst
if allow_at > now then
  return {0, math.floor((burst - (tat - now)) / interval), tat - now, allow_at - now}
end
if record then
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
end
return {1, math.floor((burst - (new_tat - now)) / interval), new_tat - now, 0}
"""


class RedisRateLimiter:
    def __init__(self, client: Redis, *, prefix: str = KEY_PREFIX) -> None:
        self._prefix = prefix
        # EVALSHA, loading the script again if the server has forgotten it (restart, SCRIPT FLUSH).
        self._script = client.register_script(GCRA_SCRIPT)

    async def hit(self, key: str, limit: int, window_seconds: float, *, cost: int = 1) -> RateDecision:
        return await self._run(key, limit, window_seconds, cost, record=True)

    async def peek(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        return await self._run(key, limit, window_seconds, 1, record=False)

    async def _run(self, key: str, limit: int, window_seconds: float, cost: int, *, record: bool) -> RateDecision:
        params = parameters(limit, window_seconds, cost)
        allowed, remaining, reset_us, retry_us = await self._script(
            keys=[self._prefix + key],
            args=[params.interval_us, params.burst_us, params.increment_us, 1 if record else 0],
        )
        return RateDecision(
            allowed=bool(allowed),
            limit=limit,
            remaining=int(remaining),
            reset_after=int(reset_us) / MICROS,
            retry_after=int(retry_us) / MICROS,
        )
