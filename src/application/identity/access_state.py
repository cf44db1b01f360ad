"""UserAccessStates: what every authenticated request checks (active? which token version? which
role and tier?), read through the cache so that the hot path does not read the database.

Every use case that changes ``is_active``, ``role``, ``tier`` or ``token_version`` calls ``forget``
after its commit. With a shared cache (Redis) the next request on every instance then reads the
new state: a deactivation cuts access at once, everywhere. Entries expire after five minutes in
any case, so a missed ``forget`` (the cache was unreachable) heals on its own.

Signing one session out (``SignOut``, a stolen refresh token coming back) also calls ``forget``: the
state lists the sessions ended while their access tokens may still be unexpired, and ``Authenticate``
refuses a token whose session id (``sid``) is listed. ``forget`` then tells every instance
(``AccessChanges``) so that open WebSockets check their credentials again.

API keys are looked up the same way (``api_key``, by the key's digest): a gateway or API call with a
``pk_`` key reads no database either. Revoking a key calls ``forget_api_keys`` after its commit,
which drops it on every instance as ``forget`` does; a deactivated account's keys stop at once
through its access state in any case.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta

from src.application.identity.ports import AccessChanges, IdentityTransaction, UserAccessState
from src.application.shared.ports import Cache, CacheStats, Clock, UnitOfWorkFactory
from src.application.shared.read_through import ReadThrough
from src.domain.identity.model import ApiKey

ACCESS_STATE_TTL_SECONDS = 300.0


class UserAccessStates:
    def __init__(
        self,
        uow: UnitOfWorkFactory[IdentityTransaction],
        cache: Cache,
        *,
        ttl_seconds: float = ACCESS_STATE_TTL_SECONDS,
        stats: CacheStats | None = None,
        clock: Clock | None = None,
        ended_session_window: timedelta = timedelta(0),
        changes: AccessChanges | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        # How far back a signed-out session matters: an access token's lifetime (plus clock leeway).
        self._ended_session_window = ended_session_window
        self._changes = changes
        # Keys are "identity:access:<user id>".
        self._reads = ReadThrough(cache, name="identity", default_ttl=ttl_seconds, stats=stats)

    async def get(self, user_id: uuid.UUID) -> UserAccessState | None:
        """The user's access state, or ``None`` when there is no such user."""

        async def load() -> UserAccessState | None:
            ended: list[uuid.UUID] = []
            async with self._uow(read_only=True) as tx:
                user = await tx.users.get(user_id)
                if user is not None and self._clock is not None and self._ended_session_window > timedelta(0):
                    since = self._clock.now() - self._ended_session_window
                    ended = await tx.refresh_tokens.ended_families(user_id, since=since)
            if user is None:
                return None
            return UserAccessState(
                is_active=user.is_active,
                token_version=user.token_version,
                role=user.role,
                tier=user.tier,
                email=user.email,
                ended_sessions=tuple(sorted(str(family) for family in ended)),
            )

        # ``None`` (an unknown user) is never cached, so ReadThrough's type is the optional one.
        return await self._reads.get_or_fill(_key(user_id), UserAccessState, None, load)

    async def api_key(self, digest: str) -> ApiKey | None:
        """The API key whose secret has ``digest`` (revoked and expired ones included: the caller
        checks), or ``None`` when there is none."""

        async def load() -> ApiKey | None:
            async with self._uow(read_only=True) as tx:
                return await tx.api_keys.get_by_hash(digest)

        return await self._reads.get_or_fill(_api_key_key(digest), ApiKey, None, load)

    async def forget_api_keys(self, digests: Iterable[str]) -> None:
        """Call after committing the revocation of keys: every instance reads them anew."""
        for digest in digests:
            await self._reads.invalidate(_api_key_key(digest))

    async def forget(self, user_id: uuid.UUID) -> None:
        """Call after committing a change to the user's access; every instance reads it anew."""
        await self._reads.invalidate(_key(user_id))
        if self._changes is not None:
            await self._changes.access_changed(user_id)


def _key(user_id: uuid.UUID) -> str:
    return f"access:{user_id}"


def _api_key_key(digest: str) -> str:
    return f"api_key:{digest}"
