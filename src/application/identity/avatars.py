"""A profile's avatar: upload (checked, re-encoded and resized), remove, and serve.

The pictures live in the ``FileStore`` under ``avatars/<user id>/<version>-<size>.webp``; the account
row names the current version. A new upload writes its files before the row points at them and removes
the old ones after the commit, so a reader never meets a row naming files that are not there yet.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from dataclasses import dataclass

from src.application.identity.ports import AvatarRenderer, IdentityTransaction
from src.application.identity.views import UserView
from src.application.shared.ports import Clock, FileStore, UnitOfWorkFactory
from src.domain.identity.errors import AvatarNotFound, UserNotFound
from src.domain.identity.model import AVATAR_SIZES, Principal, check_avatar_upload
from src.domain.shared.errors import FileStorageUnavailable, InvalidInput

AVATAR_CONTENT_TYPE = "image/webp"


def avatar_key(user_id: uuid.UUID, version: str, size: int) -> str:
    return f"avatars/{user_id}/{version}-{size}.webp"


def _keys(user_id: uuid.UUID, version: str) -> list[str]:
    return [avatar_key(user_id, version, size) for size in AVATAR_SIZES]


async def _remove_quietly(files: FileStore, keys: list[str]) -> None:
    """After the commit the change is made: files the store cannot remove now are left behind (no
    row names them), rather than failing a request whose change took effect."""
    with contextlib.suppress(FileStorageUnavailable):
        await files.delete(*keys)


@dataclass(frozen=True, slots=True)
class AvatarPicture:
    data: bytes
    content_type: str
    #: Changes with every upload: the picture's ETag.
    version: str
    size: int


class SetAvatar:
    def __init__(
        self, uow: UnitOfWorkFactory[IdentityTransaction], files: FileStore, renderer: AvatarRenderer, clock: Clock
    ) -> None:
        self._uow = uow
        self._files = files
        self._renderer = renderer
        self._clock = clock

    async def __call__(self, principal: Principal, data: bytes) -> UserView:
        image_format = check_avatar_upload(data)
        pictures = await self._renderer.render(data, image_format, AVATAR_SIZES)
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
            await _remove_quietly(self._files, _keys(user.id, previous))
        return UserView.of(user)


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
        await _remove_quietly(self._files, _keys(user.id, previous))


class GetAvatar:
    """Anyone's avatar, for any caller: profiles are shown to others. Deactivated accounts have none."""

    def __init__(self, uow: UnitOfWorkFactory[IdentityTransaction], files: FileStore) -> None:
        self._uow = uow
        self._files = files

    async def __call__(self, user_id: uuid.UUID, size: int) -> AvatarPicture:
        if size not in AVATAR_SIZES:
            raise InvalidInput(f"size must be one of {', '.join(str(s) for s in sorted(AVATAR_SIZES))}")
        async with self._uow(read_only=True) as tx:
            user = await tx.users.get(user_id)
        if user is None or not user.is_active or user.avatar_version is None:
            raise AvatarNotFound("This user has no avatar")
        data = await self._files.get(avatar_key(user.id, user.avatar_version, size))
        if data is None:
            # Replaced between the read and the fetch (the old files are gone): the caller asks again.
            raise AvatarNotFound("This avatar was just replaced; ask again")
        return AvatarPicture(data, AVATAR_CONTENT_TYPE, user.avatar_version, size)
