"""What a file key may be: the same rule for every store, so a key never escapes its folder or prefix."""

from __future__ import annotations

import re

_KEY = re.compile(r"[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*")
MAX_KEY_LENGTH = 512


def check_key(key: str) -> str:
    """``key`` itself, when it is a relative path of safe segments (none of them ``.`` or ``..``)."""
    if len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key) or any(part in {".", ".."} for part in key.split("/")):
        raise ValueError(f"{key!r} is not a file key")
    return key
