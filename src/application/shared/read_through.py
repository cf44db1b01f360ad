"""Read-through caching for use cases, with one fill at a time per key.

``await reads.get_or_fill(key, Type, ttl, fill)`` returns the cached value, or runs ``fill()``, caches
what it returns and returns it. Under a burst of concurrent callers for a key that is not cached,
``fill`` runs once in this process: the others await the same result, and when it fails they all get
the same exception and nothing is cached (the next call tries again).

Keys are namespaced by the helper's ``name`` (``conversations:<id>``), which is also the label its
hits and misses are counted under. A lookup is a hit when it was served without running ``fill``
(from the cache, or by joining a fill already under way), a miss when it ran ``fill``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from src.application.shared.ports import Cache, CacheStats

T = TypeVar("T")


class ReadThrough:
    def __init__(self, cache: Cache, *, name: str, default_ttl: float, stats: CacheStats | None = None) -> None:
        if not name or ":" in name:
            raise ValueError("a read-through cache needs a name without ':'")
        self._cache = cache
        self._name = name
        self._default_ttl = default_ttl
        self._stats = stats
        self._flights: dict[str, asyncio.Task[Any]] = {}
        # Bumped by every invalidation: a fill that started before it must not store what it read.
        self._generation = 0

    @property
    def name(self) -> str:
        return self._name

    async def get_or_fill(
        self,
        key: str,
        type_: type[T],
        ttl: float | None,
        fill: Callable[[], Awaitable[T]],
    ) -> T:
        """The value for ``key`` as ``type_``; ``ttl=None`` means the default. ``None`` is never cached."""
        full_key = self._full_key(key)
        flight = self._flights.get(full_key)
        if flight is None:
            cached = await self._cache.get(full_key, type_)
            if cached is not None:
                self._record(hit=True)
                return cached
            # Another caller may have started the fill while this one was looking.
            flight = self._flights.get(full_key)
        if flight is None:
            self._record(hit=False)
            flight = asyncio.create_task(
                self._fill(full_key, self._default_ttl if ttl is None else ttl, fill, self._generation)
            )
            flight.add_done_callback(_retrieve_outcome)
            self._flights[full_key] = flight
        else:
            self._record(hit=True)
        # Shielded: a caller that is cancelled leaves the fill running for the others.
        return cast(T, await asyncio.shield(flight))

    async def invalidate(self, *keys: str) -> None:
        """Forget ``keys``; fills under way do not store their (possibly stale) result."""
        self._generation += 1
        full_keys = [self._full_key(key) for key in keys]
        for full_key in full_keys:
            self._flights.pop(full_key, None)
        await self._cache.delete(*full_keys)

    async def invalidate_prefix(self, prefix: str = "") -> int:
        """Forget every key starting with ``prefix`` (every key of this cache by default)."""
        self._generation += 1
        full_prefix = self._full_key(prefix)
        for full_key in [k for k in self._flights if k.startswith(full_prefix)]:
            del self._flights[full_key]
        return await self._cache.delete_prefix(full_prefix)

    async def _fill(self, full_key: str, ttl: float, fill: Callable[[], Awaitable[T]], generation: int) -> T:
        try:
            value = await fill()
            if value is not None and generation == self._generation:
                await self._cache.set(full_key, value, ttl)
            return value
        finally:
            if self._flights.get(full_key) is asyncio.current_task():
                del self._flights[full_key]

    def _full_key(self, key: str) -> str:
        return f"{self._name}:{key}"

    def _record(self, *, hit: bool) -> None:
        if self._stats is not None:
            self._stats.record(self._name, hit=hit)


def _retrieve_outcome(task: asyncio.Task[Any]) -> None:
    # Every waiter may have been cancelled: read the exception so asyncio does not report it as lost.
    if not task.cancelled():
        task.exception()
