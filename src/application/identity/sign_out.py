"""SignOut (one session and its access tokens) and SignOutEverywhere (every session, every access
token, and on request every API key).

API keys are credentials for programs, not sessions: signing out everywhere and changing the password
leave them working unless ``revoke_api_keys`` is asked for (docs/SESSIONS.md).
"""

from __future__ import annotations

from src.application.identity.access_state import UserAccessStates
from src.application.identity.ports import IdentityTransaction, SecretGenerator
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.errors import InvalidToken, UserNotFound
from src.domain.identity.model import Principal


class SignOut:
    def __init__(
        self,
        uow: UnitOfWorkFactory[IdentityTransaction],
        secrets: SecretGenerator,
        clock: Clock,
        access_state: UserAccessStates,
    ) -> None:
        self._uow = uow
        self._secrets = secrets
        self._clock = clock
        self._access_state = access_state

    async def __call__(self, principal: Principal, refresh_token: str) -> None:
        """Revoke the session ``refresh_token`` belongs to (any token of its family will do); the
        session's access tokens end with it on every instance."""
        async with self._uow() as tx:
            token = await tx.refresh_tokens.get_by_hash(self._secrets.digest(refresh_token))
            # Another user's token is "invalid" to this caller: never end someone else's session.
            if token is None or token.user_id != principal.user_id:
                raise InvalidToken()
            await tx.refresh_tokens.revoke_family(token.family_id, self._clock.now())
        await self._access_state.forget(principal.user_id)


class SignOutEverywhere:
    def __init__(
        self, uow: UnitOfWorkFactory[IdentityTransaction], clock: Clock, access_state: UserAccessStates
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._access_state = access_state

    async def __call__(self, principal: Principal, *, revoke_api_keys: bool = False) -> int:
        """Revoke every session of the caller and end their access tokens (and, when asked, revoke
        every API key of theirs); the number of sessions."""
        now = self._clock.now()
        async with self._uow() as tx:
            user = await tx.users.get(principal.user_id)
            if user is None:
                raise UserNotFound()
            revoked = await tx.refresh_tokens.revoke_all_for_user(user.id, now)
            user.end_access_tokens(now=now)
            await tx.users.save(user)
            revoked_keys: list[str] = []
            if revoke_api_keys:
                for key in await tx.api_keys.list_for_user(user.id):
                    if key.revoked_at is None:
                        key.revoke(now)
                        await tx.api_keys.save(key)
                        revoked_keys.append(key.key_hash)
        # Keys first: forgetting the access state tells open sockets to check their credentials again,
        # and one opened with a revoked key must not find it still cached.
        await self._access_state.forget_api_keys(revoked_keys)
        await self._access_state.forget(user.id)
        return revoked
