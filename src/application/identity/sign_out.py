"""SignOut: one session and its access tokens end, on every instance.

API keys are credentials for programs, not sessions: signing out (everywhere too) and changing the
password leave them working unless ``revoke_api_keys`` is asked for (docs/SESSIONS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from src.application.identity.access_state import UserAccessStates
from src.application.identity.ports import IdentityTransaction, SecretGenerator
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.errors import InvalidToken
from src.domain.identity.model import Principal


@dataclass(frozen=True, slots=True)
class SignOutCommand:
    refresh_token: str


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

    async def __call__(self, principal: Principal, command: SignOutCommand) -> None:
        """Revoke the session ``refresh_token`` belongs to (any token of its family will do); the
        session's access tokens end with it on every instance."""
        async with self._uow() as tx:
            token = await tx.refresh_tokens.get_by_hash(self._secrets.digest(command.refresh_token))
            # Another user's token is "invalid" to this caller: never end someone else's session.
            if token is None or token.user_id != principal.user_id:
                raise InvalidToken()
            await tx.refresh_tokens.revoke_family(token.family_id, self._clock.now())
        await self._access_state.forget(principal.user_id)
