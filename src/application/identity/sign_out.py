"""SignOut (one session) and SignOutEverywhere (every session, and every access token)."""

from __future__ import annotations

from src.application.identity.access_state import UserAccessStates
from src.application.identity.ports import SecretGenerator
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.errors import InvalidToken, UserNotFound
from src.domain.identity.model import Principal


class SignOut:
    def __init__(self, uow: UnitOfWorkFactory, secrets: SecretGenerator, clock: Clock) -> None:
        self._uow = uow
        self._secrets = secrets
        self._clock = clock

    async def __call__(self, principal: Principal, refresh_token: str) -> None:
        """Revoke the session ``refresh_token`` belongs to (any token of its family will do)."""
        async with self._uow() as tx:
            token = await tx.refresh_tokens.get_by_hash(self._secrets.digest(refresh_token))
            # Another user's token is "invalid" to this caller: never end someone else's session.
            if token is None or token.user_id != principal.user_id:
                raise InvalidToken()
            await tx.refresh_tokens.revoke_family(token.family_id, self._clock.now())


class SignOutEverywhere:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, access_state: UserAccessStates) -> None:
        self._uow = uow
        self._clock = clock
        self._access_state = access_state

    async def __call__(self, principal: Principal) -> int:
        """Revoke every session of the caller and end their access tokens; the number of sessions."""
        now = self._clock.now()
        async with self._uow() as tx:
            user = await tx.users.get(principal.user_id)
            if user is None:
                raise UserNotFound()
            revoked = await tx.refresh_tokens.revoke_all_for_user(user.id, now)
            user.end_access_tokens(now=now)
            await tx.users.save(user)
        await self._access_state.forget(user.id)
        return revoked
