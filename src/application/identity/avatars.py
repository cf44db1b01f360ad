"""What the avatar use cases share (``set_avatar``, ``remove_avatar``, ``get_avatar``).

The pictures live in the ``FileStore`` under ``avatars/<user id>/<version>-<size>.webp``; the account
row names the current version. A new upload writes its files before the row points at them and removes
the old ones after the commit, so a reader never meets a row naming files that are not there yet.
"""

from __future__ import annotations

import contextlib
import uuid

from src.application.shared.ports import FileStore
from src.domain.identity.model import AVATAR_SIZES
from src.domain.shared.errors import FileStorageUnavailable

AVATAR_CONTENT_TYPE = "image/webp"


def avatar_key(user_id: uuid.UUID, version: str, size: int) -> str:
    return f"avatars/{user_id}/{version}-{size}.webp"


def avatar_keys(user_id: uuid.UUID, version: str) -> list[str]:
    return [avatar_key(user_id, version, size) for size in AVATAR_SIZES]


async def remove_quietly(files: FileStore, keys: list[str]) -> None:
    """After the commit the change is made: files the store cannot remove now are left behind (no
    row names them), rather than failing a request whose change took effect."""
    with contextlib.suppress(FileStorageUnavailable):
        await files.delete(*keys)
