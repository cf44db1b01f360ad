"""How cached values are stored: MessagePack bytes written and read with msgspec.

Both adapters store encoded bytes, so what a caller gets back is always a fresh object decoded as the
type it asked for, never a shared instance another caller could mutate. Bytes that no longer decode
as that type (the type changed in a deploy, or the entry was written by something else) are a miss.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar, cast

import msgspec

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()

#: What ``decode`` raises for bytes that are not a valid ``type_``.
UndecodableValue = (msgspec.DecodeError, msgspec.ValidationError)


def encode(value: Any) -> bytes:
    """MessagePack bytes for anything msgspec encodes: Structs, dataclasses, dicts, lists, datetimes, UUIDs, ..."""
    return _encoder.encode(value)


@lru_cache(maxsize=512)
def _decoder(type_: Any) -> msgspec.msgpack.Decoder[Any]:
    return msgspec.msgpack.Decoder(type_)


def decode(data: bytes, type_: type[T]) -> T:
    """``data`` decoded and validated as ``type_``; raises one of ``UndecodableValue`` otherwise."""
    return cast(T, _decoder(cast(Any, type_)).decode(data))
