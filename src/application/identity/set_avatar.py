"""SetAvatar: upload a profile picture (checked, re-encoded and resized)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from src.application.identity.avatars import AVATAR_CONTENT_TYPE, avatar_key, avatar_keys, remove_quietly
from src.application.identity.ports import AvatarRenderer, IdentityTransaction
from src.application.identity.views import UserView
from src.application.shared.ports import Clock, FileStore, UnitOfWorkFactory
from src.domain.identity.errors import UserNotFound
from src.domain.identity.model import AVATAR_SIZES, Principal, check_avatar_upload


@dataclass(frozen=True, slots=True)
class SetAvatarCommand:
    data: bytes


class SetAvatar:
    def __init__(
        self, uow: UnitOfWorkFactory[IdentityTransaction], files: FileStore, renderer: AvatarRenderer, clock: Clock
    ) -> None:
        self._uow = uow
        self._files = files
        self._renderer = renderer
        self._clock = clock

    async def __call__(self, principal: Principal, command: SetAvatarCommand) -> UserView:
        image_format = check_avatar_upload(command.data)
        pictures = await self._renderer.render(command.data, image_format, AVATAR_SIZES)
        digest = hashlib.sha256()
        for size in AVATAR_SIZES:
            digest.update(pictures[size])
        version = digest.hexdigest()[:32]
        for size in AVATAR_SIZES:
            await self._files.put(
                avatar_key(principal.user_id, version, size), pictures[size], content_type=AVATAR_CONTENT_TYPE
            )
        async with self._uow() as tx:
            user = await tx.users.get(principal.user_id)
            if user is None:
                raise UserNotFound()
            previous = user.avatar_version
            user.set_avatar(version, now=self._clock.now())
            await tx.users.save(user)
        if previous is not None and previous != version:
            await remove_quietly(self._files, avatar_keys(user.id, previous))
        return UserView.of(user)
