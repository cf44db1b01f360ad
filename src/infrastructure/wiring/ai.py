"""The ``ai`` context's adapters and use cases, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.ai.safety import PiiScanner, ScanText
from src.infrastructure.ai.pii_recognizers import NationalIdRecognizer, PhoneNumberRecognizer


@dataclass(slots=True)
class AiUseCases:
    pii: PiiScanner
    scan_text: ScanText


def build_ai() -> AiUseCases:
    pii = PiiScanner([PhoneNumberRecognizer(), NationalIdRecognizer()])
    return AiUseCases(pii=pii, scan_text=ScanText(pii))
