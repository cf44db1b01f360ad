"""SignOutEverywhere: every session and access token of the caller ends, and on request every API
key of theirs (otherwise keys keep working: they are not sessions, docs/SESSIONS.md)."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.identity.access_state import UserAccessStates
from src.application.identity.ports import IdentityTransaction
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.errors import UserNotFound
from src.domain.identity.model import Principal


@dataclass(frozen=True, slots=True)
class SignOutEverywhereCommand:
    revoke_api_keys: bool = False


class SignOutEverywhere:
    def __init__(
        self, uow: UnitOfWorkFactory[IdentityTransaction], clock: Clock, access_state: UserAccessStates
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._access_state = access_state

    async def __call__(self, principal: Principal, command: SignOutEverywhereCommand) -> int:
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
            if command.revoke_api_keys:
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
