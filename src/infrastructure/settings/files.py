"""Uploaded files (avatars): a local folder, or S3-compatible object storage when ``FILES_URL`` is set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from src.infrastructure.settings.reading import HTTP, ConfigError, Reader, both_or_neither, manual, read_group, var


@dataclass(frozen=True, slots=True)
class FileSettings:
    #: Where uploaded files live when ``url`` is not set (default ``<PARLEY_VAR_DIR>/files``).
    directory: Path = manual("FILES_DIR", Path("var/files"))
    #: ``s3://bucket/prefix``: S3-compatible object storage instead of the local folder.
    url: str | None = manual("FILES_URL", None)
    s3_endpoint: str | None = var("FILES_S3_ENDPOINT", None, url=HTTP)
    s3_region: str = var("FILES_S3_REGION", "us-east-1")
    s3_access_key_id: str | None = manual("FILES_S3_ACCESS_KEY_ID", None, secret=True)
    s3_secret_access_key: str | None = manual("FILES_S3_SECRET_ACCESS_KEY", None, secret=True)


def load_files(env: Reader, var_dir: Path) -> FileSettings:
    files_url = env.raw("FILES_URL")
    if files_url is not None:
        scheme, _, rest = files_url.partition("://")
        bucket = rest.split("/", 1)[0]
        if scheme != "s3" or not bucket:
            raise ConfigError("FILES_URL", f"must be s3://bucket or s3://bucket/prefix, got {files_url!r}")
    key_id, secret = both_or_neither(
        env,
        "FILES_S3_ACCESS_KEY_ID",
        "FILES_S3_SECRET_ACCESS_KEY",
        "must be set too: the S3 access key id and secret go together",
    )
    return read_group(
        FileSettings,
        env,
        directory=Path(env.text("FILES_DIR", (var_dir / "files").as_posix())),
        url=files_url.rstrip("/") if files_url else None,
        s3_access_key_id=key_id,
        s3_secret_access_key=secret,
    )
