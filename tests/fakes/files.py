"""An in-memory ``FileStore`` (the same Protocol as the local folder and S3 adapters)."""

from __future__ import annotations

from dataclasses import dataclass, field

from src.domain.shared.errors import FileStorageUnavailable


@dataclass
class InMemoryFileStore:
    files: dict[str, bytes] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    #: When set, every call fails as an unreachable store does.
    down: bool = False

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        self._check()
        self.files[key] = bytes(data)
        self.types[key] = content_type

    async def get(self, key: str) -> bytes | None:
        self._check()
        return self.files.get(key)

    async def delete(self, *keys: str) -> None:
        self._check()
        for key in keys:
            self.files.pop(key, None)
            self.types.pop(key, None)

    def _check(self) -> None:
        if self.down:
            raise FileStorageUnavailable("the test's file store is down")
