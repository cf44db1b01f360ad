"""Identifiers: UUIDv7 (time-ordered, so new rows land at the end of their indexes).

The standard library of Python 3.11 has no ``uuid7``; this is RFC 9562 section 5.7 with the time
taken from the caller's ``Clock`` and 74 random bits.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime


def new_id(now: datetime) -> uuid.UUID:
    """A UUIDv7 whose timestamp is ``now`` (milliseconds since the epoch)."""
    millis = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    random_bits = int.from_bytes(os.urandom(10), "big")  # 80 bits; 74 are used
    rand_a = random_bits >> 68 & 0xFFF
    rand_b = random_bits & ((1 << 62) - 1)
    value = millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)
