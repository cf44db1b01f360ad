"""Bodies of the AI tools and safety routes."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from src.application.ai.safety import ScanReport

Check = Literal["prompt_injection", "pii"]


class ScanRequest(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(max_length=100_000)]
    checks: Annotated[list[Check] | None, msgspec.Meta(description="Which scanners run; both when left out.")] = None


class InjectionResponse(msgspec.Struct):
    flagged: bool
    score: Annotated[float, msgspec.Meta(description="0 to 1; flagged from 0.5.")]
    reasons: list[str]


class PiiFinding(msgspec.Struct):
    type: str
    start: int
    end: Annotated[int, msgspec.Meta(description="Exclusive, in characters (code points) of `text`.")]


class PiiResponse(msgspec.Struct):
    found: list[PiiFinding]
    redacted: Annotated[str, msgspec.Meta(description="`text` with placeholders such as `[EMAIL_1]`.")]


class ScanResponse(msgspec.Struct, omit_defaults=True):
    prompt_injection: InjectionResponse | None = None
    pii: PiiResponse | None = None

    @classmethod
    def of(cls, report: ScanReport) -> ScanResponse:
        injection = report.prompt_injection
        pii = report.pii
        return cls(
            prompt_injection=None
            if injection is None
            else InjectionResponse(injection.flagged, injection.score, list(injection.reasons)),
            pii=None
            if pii is None
            else PiiResponse([PiiFinding(m.type.value, m.start, m.end) for m in pii.found], pii.text),
        )
