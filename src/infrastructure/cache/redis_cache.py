"""The Redis cache: shared by every API instance and worker, and fail-soft.

Every call goes through the process's Redis circuit breaker (the one the rate limiter shares) and
under an overall time limit, so an unreachable, refusing or stalled Redis is a miss (``get`` returns
``None``; ``set`` and ``delete`` do nothing) within ``timeout`` seconds, never an exception. After
repeated failures the breaker opens and calls skip Redis at once until it probes it again.

Keys live under ``parley:cache:``. Values are MessagePack (see ``codec``); a stored value that no
longer decodes as the requested type is a miss and is deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from redis.asyncio import Redis

from src.infrastructure.cache.codec import UndecodableValue, decode, encode
from src.infrastructure.logging import get_logger
from src.infrastructure.resilience import CircuitBreaker

T = TypeVar("T")
R = TypeVar("R")

KEY_PREFIX = "parley:cache:"
DEFAULT_SCAN_BATCH = 500

logger = get_logger("parley.cache")

_GLOB_SPECIALS = frozenset("\\*?[]")


def escape_glob(text: str) -> str:
    """``text`` as a literal inside a Redis MATCH pattern."""
    return "".join(f"\\{c}" if c in _GLOB_SPECIALS else c for c in text)


class RedisCache:
    def __init__(
        self,
        client: Redis,
        breaker: CircuitBreaker,
        *,
        timeout: float,
        key_prefix: str = KEY_PREFIX,
        scan_batch: int = DEFAULT_SCAN_BATCH,
    ) -> None:
        self._redis = client
        self._breaker = breaker
        # redis-py retries a failed command a few times, each under the socket timeout: this bounds
        # the whole call, retries included.
        self._timeout = timeout
        self._prefix = key_prefix
        self._scan_batch = scan_batch

    async def get(self, key: str, type_: type[T]) -> T | None:
        full_key = self._prefix + key

        async def read() -> bytes | None:
            return cast(bytes | None, await self._redis.get(full_key))

        data = await self._call(read, None)
        if data is None:
            return None
        try:
            return decode(data, type_)
        except UndecodableValue:
            logger.warning("cache_value_undecodable", cache="redis", expected=getattr(type_, "__name__", repr(type_)))
            await self.delete(key)
            return None

    async def set(self, key: str, value: Any, ttl_seconds: float) -> None:
        data = encode(value)  # an unencodable value is the caller's bug, not Redis being away: it raises
        if ttl_seconds <= 0:
            await self.delete(key)
            return
        ttl_ms = max(1, round(ttl_seconds * 1000))
        await self._call(lambda: self._redis.set(self._prefix + key, data, px=ttl_ms), None)

    async def delete(self, *keys: str) -> None:
        if keys:
            full_keys = [self._prefix + key for key in keys]
            await self._call(lambda: self._redis.unlink(*full_keys), 0)

    async def delete_prefix(self, prefix: str) -> int:
        """SCAN for matching keys and UNLINK them a batch at a time (never KEYS, which blocks Redis).

        Stops at the first failed call and returns how many it deleted until then.
        """
        pattern = escape_glob(self._prefix + prefix) + "*"
        cursor = 0
        deleted = 0
        keys: list[bytes] = []

        async def scan_page() -> tuple[int, list[bytes]]:
            next_cursor, found = await self._redis.scan(cursor=cursor, match=pattern, count=self._scan_batch)
            return int(next_cursor), cast(list[bytes], found)

        async def unlink_page() -> int:
            return int(await self._redis.unlink(*keys))

        while True:
            page = await self._call(scan_page, None)
            if page is None:
                return deleted
            cursor, keys = page
            if keys:
                count = await self._call(unlink_page, None)
                if count is None:
                    return deleted
                deleted += count
            if cursor == 0:
                return deleted

    async def _call(self, operation: Callable[[], Awaitable[R]], default: R) -> R:
        async def bounded() -> R:
            async with asyncio.timeout(self._timeout):
                return await operation()

        async def fallback() -> R:
            return default

        return await self._breaker.call(bounded, fallback)
