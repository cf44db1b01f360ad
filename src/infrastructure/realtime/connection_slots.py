"""How many WebSockets each user has open, across every API instance.

With Redis, each user's open sockets are members of a sorted set scored by lease expiry: a socket
renews its lease while open and leaves the set when it closes; one that vanished with its instance
drops out when its lease runs out. The check-and-add is one Lua script, so two instances admitting
sockets at the same moment never let the user past the limit. Without Redis (or while it is down,
through the shared breaker) each instance counts its own sockets: the limit then holds per instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from src.infrastructure.resilience import CircuitBreaker

KEY_PREFIX = "parley:ws:"

# KEYS[1]: the user's set. ARGV: lease_ms, limit (0: renew only), member. The time is the Redis
# server's, so instances whose clocks disagree still agree on leases. Returns 1 when admitted.
_ACQUIRE = """
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if limit > 0 and redis.call('ZCARD', KEYS[1]) >= limit then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
"""


@dataclass(frozen=True, slots=True)
class SocketSlot:
    user_id: str
    connection_id: str
    #: Whether Redis admitted it (then Redis must be told when it closes).
    shared: bool


class ConnectionSlots:
    def __init__(
        self,
        redis: Redis | None,
        breaker: CircuitBreaker | None,
        *,
        limit: int,
        lease_seconds: float = 60.0,
        timeout: float = 0.5,
    ) -> None:
        self._redis = redis
        self._breaker = breaker
        self.limit = limit
        self.lease_seconds = lease_seconds
        self._timeout = timeout
        self._local: defaultdict[str, set[str]] = defaultdict(set)
        self._acquire = redis.register_script(_ACQUIRE) if redis is not None else None

    @property
    def open_here(self) -> int:
        """Sockets open on this process (every user's): the system status adds up the instances'."""
        return sum(len(slots) for slots in self._local.values())

    def _key(self, user_id: str) -> str:
        return f"{KEY_PREFIX}{user_id}"

    async def acquire(self, user_id: str) -> SocketSlot | None:
        """A slot for one more socket of ``user_id``, or ``None`` when the user has ``limit`` open."""
        connection_id = uuid.uuid4().hex
        shared = await self._shared_acquire(user_id, connection_id)
        if shared is False or (shared is None and len(self._local[user_id]) >= self.limit):
            return None
        self._local[user_id].add(connection_id)
        return SocketSlot(user_id, connection_id, shared=shared is True)

    async def renew(self, slot: SocketSlot) -> None:
        """Keep the lease of an open socket (call every ``lease_seconds / 3``)."""
        if not slot.shared or self._redis is None:
            return
        assert self._acquire is not None
        script = self._acquire

        async def renew() -> None:
            async with asyncio.timeout(self._timeout):
                await script(keys=[self._key(slot.user_id)], args=[self._lease_ms, 0, slot.connection_id])

        await self._through_breaker(renew)

    async def release(self, slot: SocketSlot) -> None:
        local = self._local.get(slot.user_id)
        if local is not None:
            local.discard(slot.connection_id)
            if not local:
                del self._local[slot.user_id]
        if slot.shared and self._redis is not None:
            redis = self._redis

            async def remove() -> None:
                async with asyncio.timeout(self._timeout):
                    await redis.zrem(self._key(slot.user_id), slot.connection_id)

            await self._through_breaker(remove)

    def open_locally(self, user_id: str) -> int:
        return len(self._local.get(user_id, ()))

    async def _shared_acquire(self, user_id: str, connection_id: str) -> bool | None:
        """True/False when Redis decided; None when it could not (count locally)."""
        if self._acquire is None:
            return None
        script = self._acquire

        async def shared() -> bool | None:
            async with asyncio.timeout(self._timeout):
                admitted = await script(
                    keys=[self._key(user_id)],
                    args=[self._lease_ms, self.limit, connection_id],
                )
            return bool(admitted)

        async def local() -> bool | None:
            return None

        if self._breaker is None:
            try:
                return await shared()
            except Exception:  # noqa: BLE001 - Redis unreachable: count locally
                return None
        return await self._breaker.call(shared, local)

    @property
    def _lease_ms(self) -> int:
        return int(self.lease_seconds * 1000)

    async def _through_breaker(self, operation: Callable[[], Awaitable[None]]) -> None:
        """Best effort: a lease that could not be renewed or removed expires on its own."""

        async def skip() -> None:
            return None

        if self._breaker is None:
            with contextlib.suppress(Exception):
                await operation()
            return
        await self._breaker.call(operation, skip)
