"""UserAccessStates: what every authenticated request checks (active? which token version? which
role and tier?), read through the cache so that the hot path does not read the database.

Every use case that changes ``is_active``, ``role``, ``tier`` or ``token_version`` calls ``forget``
after its commit. With a shared cache (Redis) the next request on every instance then reads the
new state: a deactivation cuts access at once, everywhere. Entries expire after five minutes in
any case, so a missed ``forget`` (the cache was unreachable) heals on its own.
"""

from __future__ import annotations

import uuid

from src.application.identity.ports import UserAccessState
from src.application.shared.ports import Cache, CacheStats, UnitOfWorkFactory
from src.application.shared.read_through import ReadThrough

ACCESS_STATE_TTL_SECONDS = 300.0


class UserAccessStates:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        cache: Cache,
        *,
        ttl_seconds: float = ACCESS_STATE_TTL_SECONDS,
        stats: CacheStats | None = None,
    ) -> None:
        self._uow = uow
        # Keys are "identity:access:<user id>".
        self._reads = ReadThrough(cache, name="identity", default_ttl=ttl_seconds, stats=stats)

    async def get(self, user_id: uuid.UUID) -> UserAccessState | None:
        """The user's access state, or ``None`` when there is no such user."""

        async def load() -> UserAccessState | None:
            async with self._uow(read_only=True) as tx:
                user = await tx.users.get(user_id)
            if user is None:
                return None
            return UserAccessState(
                is_active=user.is_active,
                token_version=user.token_version,
                role=user.role,
                tier=user.tier,
                email=user.email,
            )

        # ``None`` (an unknown user) is never cached, so ReadThrough's type is the optional one.
        return await self._reads.get_or_fill(_key(user_id), UserAccessState, None, load)

    async def forget(self, user_id: uuid.UUID) -> None:
        await self._reads.invalidate(_key(user_id))


def _key(user_id: uuid.UUID) -> str:
    return f"access:{user_id}"
