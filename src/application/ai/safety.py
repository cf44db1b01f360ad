"""Safety scanners every front door and use case shares: prompt injection and personal data.

``PiiScanner`` joins the standard-library recognizers of the domain with the library-backed ones
(phone numbers, national ids) given as ``PiiRecognizer`` ports, and keeps one finding per stretch of
text. ``ScanText`` (``scan_text.py``) is the ``POST /safety/scan`` use case.
"""

from __future__ import annotations

from collections.abc import Sequence

from src.application.ai.ports import PiiRecognizer
from src.domain.ai.pii import PiiMatch, Redaction, find_standard_pii, redact, resolve_overlaps

CHECKS = ("prompt_injection", "pii")
MAX_SCANNED_CHARS = 100_000


class PiiScanner:
    def __init__(self, recognizers: Sequence[PiiRecognizer] = ()) -> None:
        self._recognizers = tuple(recognizers)

    def find(self, text: str) -> list[PiiMatch]:
        found = find_standard_pii(text)
        for recognizer in self._recognizers:
            found.extend(recognizer.find(text))
        return resolve_overlaps(found) if found else []

    def redact(self, text: str) -> Redaction:
        """Placeholders (``[EMAIL_1]``) instead of what was found; ``restore`` puts it back."""
        return redact(text, self.find(text))

    def mask(self, text: str) -> str:
        return self.redact(text).text
