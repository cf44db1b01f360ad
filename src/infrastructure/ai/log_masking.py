"""A structlog processor that masks personal data in every log line (``[EMAIL_1]``, ``[PHONE_1]``, ...).

Only string values are looked at, and only those that could hold personal data (a digit or an "@"),
so ordinary lines cost a character check per value. Keys that are Parley's own (time, level, logger,
request id) are left alone.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from src.application.ai.safety import PiiScanner
from src.infrastructure.ai.pii_recognizers import NationalIdRecognizer, PhoneNumberRecognizer

_SCANNER = PiiScanner([PhoneNumberRecognizer(), NationalIdRecognizer()])
_OWN_KEYS = frozenset({"timestamp", "level", "logger", "request_id", "trace_id", "span_id", "duration_ms", "status"})
_GATE = frozenset("0123456789@")


def _masked(value: str) -> str:
    if not _GATE.intersection(value):
        return value
    return _SCANNER.mask(value)


def mask_pii(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event_dict.items():
        if key not in _OWN_KEYS and isinstance(value, str):
            event_dict[key] = _masked(value)
    return event_dict
