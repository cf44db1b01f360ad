"""In-memory fakes of the cache ports, for use-case tests."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

T = TypeVar("T")


class FakeCache:
    """Keeps values as given. Every call yields to the event loop once, as a networked cache would."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.ttls: dict[str, float] = {}

    async def get(self, key: str, type_: type[T]) -> T | None:
        await asyncio.sleep(0)
        value = self.values.get(key)
        return value if isinstance(value, type_) else None

    async def set(self, key: str, value: Any, ttl_seconds: float) -> None:
        await asyncio.sleep(0)
        self.values[key] = value
        self.ttls[key] = ttl_seconds

    async def delete(self, *keys: str) -> None:
        await asyncio.sleep(0)
        for key in keys:
            self.values.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        await asyncio.sleep(0)
        doomed = [k for k in self.values if k.startswith(prefix)]
        for key in doomed:
            del self.values[key]
        return len(doomed)


class RecordingCacheStats:
    def __init__(self) -> None:
        self.lookups: list[tuple[str, bool]] = []

    def record(self, cache: str, *, hit: bool) -> None:
        self.lookups.append((cache, hit))

    def count(self, cache: str, *, hit: bool) -> int:
        return sum(1 for name, was_hit in self.lookups if name == cache and was_hit == hit)
