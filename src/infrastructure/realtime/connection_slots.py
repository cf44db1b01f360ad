"""How many WebSockets each user has open, across every API instance.

With Redis, each user's open sockets are members of a sorted set scored by lease expiry: a socket
renews its lease while open and leaves the set when it closes; one that vanished with its instance
drops out when its lease runs out. Sooner than that: each member names its instance, and every
instance with open sockets keeps a short liveness key (``parley:ws:instance:<id>``,
``LIVENESS_SECONDS``, refreshed every ``HEARTBEAT_SECONDS``); an admission drops the members whose
instance's key is gone, so the slots of a killed instance free within ~10 s, not the 60 s lease.
The check-and-add is one Lua script, so two instances admitting sockets at the same moment never let
the user past the limit. Without Redis (or while it is down, through the shared breaker) each
instance counts its own sockets: the limit then holds per instance.

A socket admitted locally while Redis was down is registered in Redis once Redis answers again (at
the user's next admission on this instance, and by its renewal, which comes every
``UNREGISTERED_RENEW_SECONDS`` until it succeeds): otherwise Redis, back and empty, would admit
``limit`` more sockets beside the ones already open.
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
from src.infrastructure.tasks import cancel_and_wait, raise_if_cancelled

KEY_PREFIX = "parley:ws:"
#: How often a socket that Redis does not know about yet tries to register (see the module notes).
UNREGISTERED_RENEW_SECONDS = 2.0

#: A dead instance's sockets stop counting this long after its last heartbeat.
LIVENESS_SECONDS = 10.0
HEARTBEAT_SECONDS = 3.0
INSTANCE_PREFIX = f"{KEY_PREFIX}instance:"

# KEYS[1]: the user's set, KEYS[2]: this instance's liveness key. ARGV: lease_ms, limit (0: renew
# only), member (``<instance id>:<connection id>``), liveness_ms. The time is the Redis server's, so
# instances whose clocks disagree still agree on leases. Returns 1 when admitted.
_ACQUIRE = f"""
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[4]))
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if limit > 0 then
  -- Sockets of instances that stopped heartbeating (killed) no longer count.
  for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    local instance = string.match(member, '^([^:]+):')
    if instance and redis.call('EXISTS', '{INSTANCE_PREFIX}' .. instance) == 0 then
      redis.call('ZREM', KEYS[1], member)
    end
  end
  if redis.call('ZCARD', KEYS[1]) >= limit then
    return 0
  end
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
"""


@dataclass(frozen=True, slots=True)
class SocketSlot:
    user_id: str
    connection_id: str
    #: Whether Redis admitted it (else it is registered there later, once Redis answers again).
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
        liveness_seconds: float = LIVENESS_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self._redis = redis
        self._breaker = breaker
        self.limit = limit
        self.lease_seconds = lease_seconds
        self._timeout = timeout
        self._local: defaultdict[str, set[str]] = defaultdict(set)
        #: Open sockets of this instance that Redis does not know about (admitted while it was away).
        self._unregistered: defaultdict[str, set[str]] = defaultdict(set)
        self._acquire = redis.register_script(_ACQUIRE) if redis is not None else None
        self.instance_id = uuid.uuid4().hex
        self._liveness_seconds = liveness_seconds
        self._heartbeat_seconds = heartbeat_seconds
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def _instance_key(self) -> str:
        return f"{INSTANCE_PREFIX}{self.instance_id}"

    def _member(self, connection_id: str) -> str:
        return f"{self.instance_id}:{connection_id}"

    def _keep_alive(self) -> None:
        """While this instance has sockets, refresh its liveness key (started on the first)."""
        if self._redis is None or (self._heartbeat is not None and not self._heartbeat.done()):
            return
        self._heartbeat = asyncio.create_task(self._beat(), name="ws-slots-heartbeat")

    async def _beat(self) -> None:
        assert self._redis is not None
        redis = self._redis
        liveness_ms = int(self._liveness_seconds * 1000)

        async def beat() -> None:
            async with asyncio.timeout(self._timeout):
                await redis.set(self._instance_key, "1", px=liveness_ms)

        while self._local:
            raise_if_cancelled()
            await self._through_breaker(beat)
            await asyncio.sleep(self._heartbeat_seconds)

    async def stop(self) -> None:
        """Stop the heartbeat (shutdown; sockets are released on their own)."""
        await cancel_and_wait(self._heartbeat)
        self._heartbeat = None

    @property
    def open_here(self) -> int:
        """Sockets open on this process (every user's): the system status adds up the instances'."""
        return sum(len(slots) for slots in self._local.values())

    def _key(self, user_id: str) -> str:
        return f"{KEY_PREFIX}{user_id}"

    async def acquire(self, user_id: str) -> SocketSlot | None:
        """A slot for one more socket of ``user_id``, or ``None`` when the user has ``limit`` open."""
        connection_id = uuid.uuid4().hex
        for unregistered in list(self._unregistered.get(user_id, ())):
            await self._register(user_id, unregistered)
        shared = await self._shared_acquire(user_id, connection_id)
        if shared is False or (shared is None and len(self._local[user_id]) >= self.limit):
            return None
        self._local[user_id].add(connection_id)
        if shared is None and self._redis is not None:
            self._unregistered[user_id].add(connection_id)
        self._keep_alive()
        return SocketSlot(user_id, connection_id, shared=shared is True)

    def renew_after(self, slot: SocketSlot) -> float:
        """Seconds until ``slot`` should be renewed: soon while Redis does not know about it yet."""
        if slot.connection_id in self._unregistered.get(slot.user_id, ()):
            return min(UNREGISTERED_RENEW_SECONDS, self.lease_seconds / 3)
        return self.lease_seconds / 3

    async def renew(self, slot: SocketSlot) -> None:
        """Keep the lease of an open socket (call after ``renew_after(slot)`` seconds); a socket
        admitted while Redis was away is registered there now."""
        if self._redis is not None:
            await self._register(slot.user_id, slot.connection_id)

    async def _register(self, user_id: str, connection_id: str) -> None:
        """Add (or extend) the socket's lease in Redis without the admission check."""
        assert self._acquire is not None
        script = self._acquire

        async def register() -> None:
            async with asyncio.timeout(self._timeout):
                await script(
                    keys=[self._key(user_id), self._instance_key],
                    args=[self._lease_ms, 0, self._member(connection_id), self._liveness_ms],
                )
            self._forget_unregistered(user_id, connection_id)

        await self._through_breaker(register)

    def _forget_unregistered(self, user_id: str, connection_id: str) -> None:
        unregistered = self._unregistered.get(user_id)
        if unregistered is not None:
            unregistered.discard(connection_id)
            if not unregistered:
                del self._unregistered[user_id]

    async def release(self, slot: SocketSlot) -> None:
        local = self._local.get(slot.user_id)
        was_registered = slot.connection_id not in self._unregistered.get(slot.user_id, ())
        self._forget_unregistered(slot.user_id, slot.connection_id)
        if local is not None:
            local.discard(slot.connection_id)
            if not local:
                del self._local[slot.user_id]
        if was_registered and self._redis is not None:
            redis = self._redis

            async def remove() -> None:
                async with asyncio.timeout(self._timeout):
                    await redis.zrem(self._key(slot.user_id), self._member(slot.connection_id))

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
                    keys=[self._key(user_id), self._instance_key],
                    args=[self._lease_ms, self.limit, self._member(connection_id), self._liveness_ms],
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

    @property
    def _liveness_ms(self) -> int:
        return int(self._liveness_seconds * 1000)

    async def _through_breaker(self, operation: Callable[[], Awaitable[None]]) -> None:
        """Best effort: a lease that could not be renewed or removed expires on its own."""

        async def skip() -> None:
            return None

        if self._breaker is None:
            with contextlib.suppress(Exception):
                await operation()
            return
        await self._breaker.call(operation, skip)
