"""Safety scanners every front door and use case shares: prompt injection and personal data.

``PiiScanner`` joins the standard-library recognizers of the domain with the library-backed ones
(phone numbers, national ids) given as ``PiiRecognizer`` ports, and keeps one finding per stretch of
text. ``ScanText`` is the ``POST /safety/scan`` use case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from src.application.ai.ports import PiiRecognizer
from src.domain.ai.injection import InjectionVerdict, scan_prompt_injection
from src.domain.ai.pii import PiiMatch, Redaction, find_standard_pii, redact, resolve_overlaps
from src.domain.shared.errors import InvalidInput

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


@dataclass(frozen=True, slots=True)
class ScanCommand:
    text: str
    checks: tuple[str, ...] = CHECKS


@dataclass(frozen=True, slots=True)
class ScanReport:
    prompt_injection: InjectionVerdict | None
    pii: Redaction | None


class ScanText:
    def __init__(self, pii: PiiScanner) -> None:
        self._pii = pii

    def __call__(self, command: ScanCommand) -> ScanReport:
        unknown = sorted(set(command.checks) - set(CHECKS))
        if unknown:
            raise InvalidInput(
                f"unknown checks: {', '.join(unknown)} (known: {', '.join(CHECKS)})", extra={"checks": unknown}
            )
        if len(command.text) > MAX_SCANNED_CHARS:
            raise InvalidInput(f"at most {MAX_SCANNED_CHARS:,} characters are scanned at once")
        checks = set(command.checks or CHECKS)
        return ScanReport(
            prompt_injection=scan_prompt_injection(command.text) if "prompt_injection" in checks else None,
            pii=self._pii.redact(command.text) if "pii" in checks else None,
        )
