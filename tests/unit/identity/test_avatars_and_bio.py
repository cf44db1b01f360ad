"""A profile's bio and avatar through the use cases: the avatar's pictures go to the file store (here in
memory), are replaced and removed with the account row, and are served only for active accounts."""

from __future__ import annotations

import pytest

from src.application.identity.avatars import avatar_key
from src.application.identity.get_avatar import GetAvatar, GetAvatarQuery
from src.application.identity.remove_avatar import RemoveAvatar
from src.application.identity.set_avatar import SetAvatar, SetAvatarCommand
from src.application.identity.update_profile import UpdateProfileCommand
from src.domain.identity.errors import AvatarNotFound, ImageTooLarge, InvalidBio, InvalidImage
from src.domain.identity.model import MAX_AVATAR_BYTES, MAX_BIO_LENGTH, Principal, check_avatar_upload
from src.domain.shared.errors import FileStorageUnavailable, InvalidInput
from src.infrastructure.files.avatars import PillowAvatarRenderer
from tests.fakes.files import InMemoryFileStore
from tests.images import decode, jpeg_with_exif, png, webp
from tests.unit.identity.conftest import World


@pytest.fixture
def files() -> InMemoryFileStore:
    return InMemoryFileStore()


@pytest.fixture
def avatars(world: World, files: InMemoryFileStore) -> tuple[SetAvatar, RemoveAvatar, GetAvatar]:
    return (
        SetAvatar(world.uow, files, PillowAvatarRenderer(), world.clock),
        RemoveAvatar(world.uow, files, world.clock),
        GetAvatar(world.uow, files),
    )


async def test_bio_is_set_trimmed_kept_with_line_breaks_and_cleared(world: World) -> None:
    ada, _ = await world.session()
    view = await world.update_profile(ada, UpdateProfileCommand(bio="  Mathematician.\r\nWrites notes on engines.  "))
    assert view.bio == "Mathematician.\nWrites notes on engines."
    assert view.display_name == "Ada"  # what is not sent stays
    renamed = await world.update_profile(ada, UpdateProfileCommand(display_name="Ada L."))
    assert (renamed.display_name, renamed.bio) == ("Ada L.", "Mathematician.\nWrites notes on engines.")
    assert (await world.update_profile(ada, UpdateProfileCommand(bio=""))).bio == ""


@pytest.mark.parametrize(
    "bio", ["x" * (MAX_BIO_LENGTH + 1), "null\x00byte", "bell\x07", "escape\x1b[31m", "delete\x7f"]
)
async def test_bio_refuses_too_long_text_and_control_characters(world: World, bio: str) -> None:
    ada, _ = await world.session()
    with pytest.raises(InvalidBio):
        await world.update_profile(ada, UpdateProfileCommand(bio=bio))
    assert world.db.identity.users[ada.user_id].bio == ""


def test_uploads_are_told_by_their_content_not_their_name() -> None:
    assert check_avatar_upload(png()) == "png"
    assert check_avatar_upload(jpeg_with_exif()) == "jpeg"
    assert check_avatar_upload(webp()) == "webp"
    for not_a_picture in (b"", b"GIF89a" + b"\x00" * 20, b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.7"):
        with pytest.raises(InvalidImage):
            check_avatar_upload(not_a_picture)
    with pytest.raises(ImageTooLarge):
        check_avatar_upload(b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_AVATAR_BYTES)


async def test_an_avatar_is_stored_in_both_sizes_replaced_and_removed(
    world: World, files: InMemoryFileStore, avatars: tuple[SetAvatar, RemoveAvatar, GetAvatar]
) -> None:
    set_avatar, remove_avatar, get_avatar = avatars
    ada, _ = await world.session()

    first = await set_avatar(ada, SetAvatarCommand(png()))
    assert first.avatar_version is not None
    assert sorted(files.files) == sorted(
        [avatar_key(ada.user_id, first.avatar_version, 256), avatar_key(ada.user_id, first.avatar_version, 64)]
    )
    for size in (256, 64):
        picture = await get_avatar(GetAvatarQuery(ada.user_id, size))
        assert (picture.version, picture.content_type) == (first.avatar_version, "image/webp")
        assert decode(picture.data).size == (size, size)

    second = await set_avatar(ada, SetAvatarCommand(jpeg_with_exif()))
    assert second.avatar_version not in (None, first.avatar_version)
    # The old pictures are gone once the account names the new ones.
    assert all(second.avatar_version in key for key in files.files)
    assert len(files.files) == 2

    await remove_avatar(ada)
    assert files.files == {}
    assert (await world.get_profile(ada)).avatar_version is None
    with pytest.raises(AvatarNotFound):
        await get_avatar(GetAvatarQuery(ada.user_id, 64))
    await remove_avatar(ada)  # removing none is fine


async def test_a_refused_upload_changes_nothing(
    world: World, files: InMemoryFileStore, avatars: tuple[SetAvatar, RemoveAvatar, GetAvatar]
) -> None:
    set_avatar, _, _ = avatars
    ada, _ = await world.session()
    kept = await set_avatar(ada, SetAvatarCommand(png()))
    for bad in (b"just text, named avatar.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 50):
        with pytest.raises(InvalidImage):
            await set_avatar(ada, SetAvatarCommand(bad))
    assert (await world.get_profile(ada)).avatar_version == kept.avatar_version
    assert len(files.files) == 2


async def test_avatars_of_deactivated_or_unknown_users_and_odd_sizes_are_refused(
    world: World, avatars: tuple[SetAvatar, RemoveAvatar, GetAvatar]
) -> None:
    set_avatar, _, get_avatar = avatars
    ada, _ = await world.session()
    await set_avatar(ada, SetAvatarCommand(png()))
    with pytest.raises(InvalidInput):
        await get_avatar(GetAvatarQuery(ada.user_id, 128))
    await world.deactivate(ada)
    with pytest.raises(AvatarNotFound):
        await get_avatar(GetAvatarQuery(ada.user_id, 64))
    with pytest.raises(AvatarNotFound):
        await get_avatar(GetAvatarQuery(Principal.system().user_id, 64))


async def test_a_file_store_failing_after_the_commit_does_not_fail_the_change(
    world: World, files: InMemoryFileStore, avatars: tuple[SetAvatar, RemoveAvatar, GetAvatar]
) -> None:
    set_avatar, remove_avatar, _ = avatars
    ada, _ = await world.session()
    await set_avatar(ada, SetAvatarCommand(png()))
    files.down = True
    with pytest.raises(FileStorageUnavailable):
        await set_avatar(ada, SetAvatarCommand(webp()))  # the new pictures cannot be written: nothing changes
    files.down = False
    first = (await world.get_profile(ada)).avatar_version

    original_delete = files.delete

    async def failing_delete(*keys: str) -> None:
        raise FileStorageUnavailable("down just for the clean-up")

    files.delete = failing_delete  # type: ignore[method-assign]
    await remove_avatar(ada)  # committed; the leftover files are left behind
    assert (await world.get_profile(ada)).avatar_version is None
    files.delete = original_delete  # type: ignore[method-assign]
    assert first is not None
