"""The in-process cache: the embedded default when Redis is not configured.

Entries expire after their TTL and the cache holds at most ``max_entries``, evicting the least
recently used first. Values are stored encoded (see ``codec``): a caller that mutates what it got
back, or what it stored, never changes the cached value. Everything runs between two awaits, so one
event loop needs no lock.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from src.infrastructure.cache.codec import UndecodableValue, decode, encode
from src.infrastructure.logging import get_logger

T = TypeVar("T")

DEFAULT_MAX_ENTRIES = 10_000

logger = get_logger("parley.cache")


class MemoryCache:
    def __init__(self, *, max_entries: int = DEFAULT_MAX_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("a memory cache holds at least one entry")
        self._max_entries = max_entries
        self._clock = clock
        # key -> (expires at, on the clock above; encoded value), least recently used first.
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str, type_: type[T]) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, data = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        try:
            value = decode(data, type_)
        except UndecodableValue:
            logger.warning("cache_value_undecodable", cache="memory", expected=_type_name(type_))
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: Any, ttl_seconds: float) -> None:
        data = encode(value)  # before touching the store: an unencodable value changes nothing
        if ttl_seconds <= 0:
            self._entries.pop(key, None)
            return
        self._entries[key] = (self._clock() + ttl_seconds, data)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        doomed = [key for key in self._entries if key.startswith(prefix)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)


def _type_name(type_: Any) -> str:
    return getattr(type_, "__name__", None) or repr(type_)
