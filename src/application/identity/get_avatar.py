"""GetAvatar: anyone's avatar, for any caller: profiles are shown to others. Deactivated accounts have none."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.identity.avatars import AVATAR_CONTENT_TYPE, avatar_key
from src.application.identity.ports import IdentityTransaction
from src.application.shared.ports import FileStore, UnitOfWorkFactory
from src.domain.identity.errors import AvatarNotFound
from src.domain.identity.model import AVATAR_SIZES
from src.domain.shared.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class GetAvatarQuery:
    user_id: uuid.UUID
    size: int


class GetAvatar:
    """Anyone's avatar, for any caller: profiles are shown to others. Deactivated accounts have none."""

    def __init__(self, uow: UnitOfWorkFactory[IdentityTransaction], files: FileStore) -> None:
        self._uow = uow
        self._files = files

    async def __call__(self, query: GetAvatarQuery) -> AvatarPicture:
        if query.size not in AVATAR_SIZES:
            raise InvalidInput(f"size must be one of {', '.join(str(s) for s in sorted(AVATAR_SIZES))}")
        async with self._uow(read_only=True) as tx:
            user = await tx.users.get(query.user_id)
        if user is None or not user.is_active or user.avatar_version is None:
            raise AvatarNotFound("This user has no avatar")
        data = await self._files.get(avatar_key(user.id, user.avatar_version, query.size))
        if data is None:
            # Replaced between the read and the fetch (the old files are gone): the caller asks again.
            raise AvatarNotFound("This avatar was just replaced; ask again")
        return AvatarPicture(data, AVATAR_CONTENT_TYPE, user.avatar_version, query.size)


@dataclass(frozen=True, slots=True)
class AvatarPicture:
    data: bytes
    content_type: str
    #: Changes with every upload: the picture's ETag.
    version: str
    size: int
