"""``FileStore`` on a local folder (``FILES_DIR``): the embedded default.

Writes go to a temporary file in the same folder and are renamed into place, so a reader sees the old
file or the new one. The file system calls run in a worker thread: they block.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path

from src.domain.shared.errors import FileStorageUnavailable
from src.infrastructure.files.keys import check_key


class LocalFileStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        return self._root / check_key(key)

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        path = self._path(key)
        try:
            await asyncio.to_thread(self._write, path, data)
        except OSError as exc:  # a full disk, a read-only or missing mount
            raise FileStorageUnavailable(f"the files folder cannot be written ({exc.strerror})") from exc

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(self._read, path)
        except OSError as exc:
            raise FileStorageUnavailable(f"the files folder cannot be read ({exc.strerror})") from exc

    async def delete(self, *keys: str) -> None:
        paths = [self._path(key) for key in keys]
        try:
            await asyncio.to_thread(self._remove, paths)
        except OSError as exc:
            raise FileStorageUnavailable(f"the files folder cannot be changed ({exc.strerror})") from exc

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    @staticmethod
    def _remove(paths: list[Path]) -> None:
        for path in paths:
            path.unlink(missing_ok=True)
