"""Both ``FileStore`` adapters against the real thing: a local folder, and S3-compatible object storage
(moto's server) through obstore. The same contract for both, plus what each must refuse."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from src.application.shared.ports import FileStore
from src.domain.shared.errors import FileStorageUnavailable
from src.infrastructure.files.local import LocalFileStore
from src.infrastructure.files.s3 import S3FileStore
from src.infrastructure.wiring.profiles import build_file_store
from tests.conftest import SettingsFactory
from tests.integration.files.conftest import S3Server


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FileStore:
    if request.param == "local":
        return LocalFileStore(tmp_path / "files")
    server: S3Server = request.getfixturevalue("s3_server")
    return S3FileStore(
        f"s3://{server.new_bucket()}/parley", endpoint=server.endpoint, access_key_id="k", secret_access_key="s"
    )


async def test_put_get_replace_and_delete(store: FileStore) -> None:
    key = "avatars/0190c1f2-7a2b-7c3d-8e4f-5a6b7c8d9e0f/abc-64.webp"
    assert await store.get(key) is None
    await store.put(key, b"first", content_type="image/webp")
    assert await store.get(key) == b"first"
    await store.put(key, b"second, longer", content_type="image/webp")
    assert await store.get(key) == b"second, longer"
    await store.put("avatars/other/x-256.webp", b"\x00\xffbinary", content_type="image/webp")
    await store.delete(key, "avatars/never/was.webp")  # a missing key is skipped
    assert await store.get(key) is None
    assert await store.get("avatars/other/x-256.webp") == b"\x00\xffbinary"


@pytest.mark.parametrize(
    "key", ["../escape", "avatars/../../etc/passwd", "/absolute", "Upper/Case", "a//b", "", "a/./b"]
)
async def test_keys_that_could_leave_the_folder_or_prefix_are_refused(store: FileStore, key: str) -> None:
    with pytest.raises(ValueError, match="not a file key"):
        await store.put(key, b"x", content_type="image/webp")
    with pytest.raises(ValueError, match="not a file key"):
        await store.get(key)


async def test_s3_writes_under_the_prefix_of_files_url(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    store = S3FileStore(
        f"s3://{bucket}/team/files", endpoint=s3_server.endpoint, access_key_id="k", secret_access_key="s"
    )
    await store.put("avatars/u/v-64.webp", b"pic", content_type="image/webp")
    assert s3_server.keys(bucket) == ["team/files/avatars/u/v-64.webp"]


async def test_unreachable_object_storage_is_a_quick_unavailable_error() -> None:
    # Nothing listens on port 9 (discard) here: the connection is refused at once.
    store = S3FileStore("s3://bucket", endpoint="http://127.0.0.1:9", access_key_id="k", secret_access_key="s")
    with pytest.raises(FileStorageUnavailable):
        await asyncio.wait_for(store.put("a/b.webp", b"x", content_type="image/webp"), timeout=60)
    with pytest.raises(FileStorageUnavailable):
        await asyncio.wait_for(store.get("a/b.webp"), timeout=60)


async def test_a_local_folder_that_cannot_be_written_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "files"
    blocker.write_text("a file where the folder should be")
    store = LocalFileStore(blocker)
    with pytest.raises(FileStorageUnavailable):
        await store.put("avatars/u/v-64.webp", b"x", content_type="image/webp")


def test_settings_choose_the_store(make_settings: SettingsFactory, tmp_path: Path) -> None:
    assert isinstance(build_file_store(make_settings(FILES_DIR=str(tmp_path / "f"))), LocalFileStore)
    s3 = make_settings(
        FILES_URL="s3://bucket/prefix",
        FILES_S3_ENDPOINT="http://127.0.0.1:9000",
        FILES_S3_ACCESS_KEY_ID="k",
        FILES_S3_SECRET_ACCESS_KEY="s",
    )
    assert isinstance(build_file_store(s3), S3FileStore)
