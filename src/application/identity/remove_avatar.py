"""RemoveAvatar: the profile picture goes (its files after the commit)."""

from __future__ import annotations

from src.application.identity.avatars import avatar_keys, remove_quietly
from src.application.identity.ports import IdentityTransaction
from src.application.shared.ports import Clock, FileStore, UnitOfWorkFactory
from src.domain.identity.errors import UserNotFound
from src.domain.identity.model import Principal


class RemoveAvatar:
    def __init__(self, uow: UnitOfWorkFactory[IdentityTransaction], files: FileStore, clock: Clock) -> None:
        self._uow = uow
        self._files = files
        self._clock = clock

    async def __call__(self, principal: Principal) -> None:
        """Removing an avatar that is not there is not an error (the outcome is the one asked for)."""
        async with self._uow() as tx:
            user = await tx.users.get(principal.user_id)
            if user is None:
                raise UserNotFound()
            previous = user.avatar_version
            if previous is None:
                return
            user.set_avatar(None, now=self._clock.now())
            await tx.users.save(user)
        await remove_quietly(self._files, avatar_keys(user.id, previous))
