"""Wiring of profiles (the ``identity`` context's avatars): the file store, the renderer, the use cases."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.identity.get_avatar import GetAvatar
from src.application.identity.remove_avatar import RemoveAvatar
from src.application.identity.set_avatar import SetAvatar
from src.application.shared.ports import Clock, FileStore
from src.application.unit_of_work import AppUnitOfWorkFactory
from src.infrastructure.files.avatars import PillowAvatarRenderer
from src.infrastructure.files.local import LocalFileStore
from src.infrastructure.files.s3 import S3FileStore
from src.infrastructure.settings import Settings


@dataclass(slots=True)
class ProfileServices:
    files: FileStore
    set_avatar: SetAvatar
    remove_avatar: RemoveAvatar
    get_avatar: GetAvatar


def build_file_store(settings: Settings) -> FileStore:
    """S3-compatible object storage when ``FILES_URL`` is set, else the local folder ``FILES_DIR``."""
    if settings.files.url is not None:
        return S3FileStore(
            settings.files.url,
            endpoint=settings.files.s3_endpoint,
            region=settings.files.s3_region,
            access_key_id=settings.files.s3_access_key_id,
            secret_access_key=settings.files.s3_secret_access_key,
        )
    return LocalFileStore(settings.files.directory)


def build_profiles(settings: Settings, uow: AppUnitOfWorkFactory, clock: Clock) -> ProfileServices:
    files = build_file_store(settings)
    renderer = PillowAvatarRenderer()
    return ProfileServices(
        files=files,
        set_avatar=SetAvatar(uow, files, renderer, clock),
        remove_avatar=RemoveAvatar(uow, files, clock),
        get_avatar=GetAvatar(uow, files),
    )
