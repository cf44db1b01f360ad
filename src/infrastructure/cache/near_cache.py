"""A near cache: a shared cache (Redis) with a short-lived copy of each value in this process.

For values read on every request (a user's access state) the Redis round trip is most of the cost
of reading them. ``NearCache`` keeps what it read or wrote for up to ``local_ttl`` seconds in this
process and is otherwise the shared cache (the ``Cache`` port).

A change must still reach every instance at once: every ``delete`` (a use case forgetting what it
changed) is also published on a Redis pub/sub channel, and every instance drops its copies of the
deleted keys when it hears it. A copy is only served while this process is connected to that
channel and has been since the copy was made: while the subscription is down (Redis away, a
reconnect under way) invalidations could be missed, so every read goes to the shared cache, and
copies made before a reconnect are never served after it. A read that raced with an invalidation
(it read the old value, the invalidation arrived before it stored its copy) does not store it.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from src.application.shared.ports import Cache
from src.infrastructure.logging import get_logger
from src.infrastructure.realtime.pubsub import PubSubHub

T = TypeVar("T")

INVALIDATION_CHANNEL = "parley:cache:invalidations"
DEFAULT_MAX_ENTRIES = 10_000

logger = get_logger("parley.cache")


@dataclass(frozen=True, slots=True)
class _Copy:
    value: Any
    type_: Any
    expires_at: float
    #: The pub/sub connection it was made under (``PubSubHub.sessions``).
    session: int


class NearCache:
    """Implements ``Cache`` over ``shared``; ``start`` subscribes to invalidations (call it at start-up)."""

    def __init__(
        self,
        shared: Cache,
        hub: PubSubHub,
        *,
        local_ttl: float,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shared = shared
        self._hub = hub
        self._local_ttl = local_ttl
        self._max_entries = max_entries
        self._clock = clock
        self._copies: OrderedDict[str, _Copy] = OrderedDict()
        #: Bumped by every invalidation heard or made: a read that began before it stores no copy.
        self._generation = 0
        self._token: int | None = None

    async def start(self) -> None:
        if self._token is None:
            self._token = await self._hub.subscribe(INVALIDATION_CHANNEL, self._heard)

    def stop(self) -> None:
        if self._token is not None:
            self._hub.unsubscribe(INVALIDATION_CHANNEL, self._token)
            self._token = None
        self._copies.clear()

    async def get(self, key: str, type_: type[T]) -> T | None:
        copy = self._copies.get(key)
        if copy is not None:
            if copy.type_ is type_ and copy.expires_at > self._clock() and self._listening(copy.session):
                return copy.value  # type: ignore[no-any-return]
            del self._copies[key]
        generation, session = self._generation, self._hub.sessions
        value = await self._shared.get(key, type_)
        if value is not None and generation == self._generation and self._listening(session):
            self._keep(key, _Copy(value, type_, self._clock() + self._local_ttl, session))
        return value

    async def set(self, key: str, value: Any, ttl_seconds: float) -> None:
        self._generation += 1
        self._copies.pop(key, None)
        generation, session = self._generation, self._hub.sessions
        await self._shared.set(key, value, ttl_seconds)
        if ttl_seconds > 0 and generation == self._generation and self._listening(session):
            lifetime = min(self._local_ttl, ttl_seconds)
            self._keep(key, _Copy(value, type(value), self._clock() + lifetime, session))

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        self._forget(keys=keys)
        await self._shared.delete(*keys)
        await self._hub.publish(INVALIDATION_CHANNEL, json.dumps({"keys": list(keys)}).encode())

    async def delete_prefix(self, prefix: str) -> int:
        self._forget(prefix=prefix)
        deleted = await self._shared.delete_prefix(prefix)
        await self._hub.publish(INVALIDATION_CHANNEL, json.dumps({"prefix": prefix}).encode())
        return deleted

    def _listening(self, session: int) -> bool:
        return self._token is not None and self._hub.connected and self._hub.sessions == session

    def _keep(self, key: str, copy: _Copy) -> None:
        self._copies[key] = copy
        self._copies.move_to_end(key)
        while len(self._copies) > self._max_entries:
            self._copies.popitem(last=False)

    def _forget(self, *, keys: tuple[str, ...] | list[str] = (), prefix: str | None = None) -> None:
        self._generation += 1
        for key in keys:
            self._copies.pop(key, None)
        if prefix is not None:
            for key in [k for k in self._copies if k.startswith(prefix)]:
                del self._copies[key]

    def _heard(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
            keys = [str(k) for k in message.get("keys", [])]
            prefix = message.get("prefix")
        except (ValueError, AttributeError, TypeError):
            # Unreadable: dropping every copy is always safe.
            logger.warning("cache_invalidation_unreadable")
            self._generation += 1
            self._copies.clear()
            return
        self._forget(keys=keys, prefix=str(prefix) if prefix is not None else None)
