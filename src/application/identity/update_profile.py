"""UpdateProfile: the signed-in user renames themselves or changes their bio."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.identity.ports import AuditedIdentityTransaction
from src.application.identity.views import UserView
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.errors import UserNotFound
from src.domain.identity.model import Principal


@dataclass(frozen=True, slots=True)
class UpdateProfileCommand:
    display_name: str | None = None
    bio: str | None = None


class UpdateProfile:
    def __init__(self, uow: UnitOfWorkFactory[AuditedIdentityTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: UpdateProfileCommand) -> UserView:
        """Only what is given changes (``None``: left as it is)."""
        now = self._clock.now()
        async with self._uow() as tx:
            user = await tx.users.get(principal.user_id)
            if user is None:
                raise UserNotFound()
            if command.display_name is not None:
                user.rename(command.display_name, now=now)
            if command.bio is not None:
                user.describe(command.bio, now=now)
            await tx.users.save(user)
        return UserView.of(user)
