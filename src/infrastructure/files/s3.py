"""``FileStore`` on S3-compatible object storage (``FILES_URL=s3://bucket/prefix``) through obstore.

obstore (the Rust ``object_store`` crate behind a small Python API) talks to AWS S3, MinIO, R2 and
other S3-compatible servers, streams natively async without a thread per call, and has no botocore
start-up cost. A PUT of one object is atomic on S3: readers see the old object or the new one.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import S3Store

from src.domain.shared.errors import FileStorageUnavailable
from src.infrastructure.files.keys import check_key

T = TypeVar("T")
#: A request waits this long at most; a storage outage is a quick 503, not a hung upload.
CONNECT_TIMEOUT = timedelta(seconds=3)
REQUEST_TIMEOUT = timedelta(seconds=15)
RETRIES = 2
RETRY_TIMEOUT = timedelta(seconds=10)


class S3FileStore:
    def __init__(
        self,
        url: str,
        *,
        endpoint: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        scheme, _, rest = url.partition("://")
        if scheme != "s3":
            raise ValueError(f"{url!r} is not an s3:// URL")
        bucket, _, prefix = rest.partition("/")
        config: dict[str, object] = {"region": region}
        if endpoint is not None:
            config["endpoint"] = endpoint
        if access_key_id is not None and secret_access_key is not None:
            config["access_key_id"] = access_key_id
            config["secret_access_key"] = secret_access_key
        self._store = S3Store(
            bucket,
            prefix=prefix.strip("/") or None,
            config=config,  # type: ignore[arg-type]
            client_options={
                "allow_http": bool(endpoint and endpoint.startswith("http://")),
                "connect_timeout": CONNECT_TIMEOUT,
                "timeout": REQUEST_TIMEOUT,
            },
            retry_config={"max_retries": RETRIES, "retry_timeout": RETRY_TIMEOUT},
        )

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await _reachable(
            obstore.put_async(self._store, check_key(key), data, attributes={"Content-Type": content_type})
        )

    async def get(self, key: str) -> bytes | None:
        path = check_key(key)
        try:
            result = await obstore.get_async(self._store, path)
            return bytes(await result.bytes_async())
        except (NotFoundError, FileNotFoundError):
            return None
        except (BaseError, OSError, TimeoutError) as exc:
            raise FileStorageUnavailable("the object storage did not answer") from exc

    async def delete(self, *keys: str) -> None:
        # S3's DELETE of a missing object succeeds: removing what is gone already is not an error.
        if keys:
            await _reachable(obstore.delete_async(self._store, [check_key(key) for key in keys]))


async def _reachable(call: Awaitable[T]) -> T:
    try:
        return await call
    except (BaseError, OSError, TimeoutError) as exc:
        raise FileStorageUnavailable("the object storage did not answer") from exc
