"""ScanText: scan a text for prompt injection and personal data (nothing is stored)."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.ai.safety import CHECKS, MAX_SCANNED_CHARS, PiiScanner
from src.domain.ai.injection import InjectionVerdict, scan_prompt_injection
from src.domain.ai.pii import Redaction
from src.domain.shared.errors import InvalidInput


class ScanText:
    def __init__(self, pii: PiiScanner) -> None:
        self._pii = pii

    def __call__(self, command: ScanTextCommand) -> ScanReport:
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


@dataclass(frozen=True, slots=True)
class ScanTextCommand:
    text: str
    checks: tuple[str, ...] = CHECKS


@dataclass(frozen=True, slots=True)
class ScanReport:
    prompt_injection: InjectionVerdict | None
    pii: Redaction | None
