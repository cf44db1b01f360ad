"""Bodies of the AI tools and safety routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from src.application.ai.runner import ToolOutcome
from src.application.ai.scan_text import ScanReport
from src.domain.ai.model import (
    ClassificationResult,
    GenerationResult,
    ModerationResult,
    SummaryResult,
    ToolTemplate,
)

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


# -- AI tools ------------------------------------------------------------------------------------

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=1_000_000)]
ModelName = (
    Annotated[str, msgspec.Meta(max_length=200, description="`provider/model`; the default model when left out.")]
    | None
)


class ToolUsage(msgspec.Struct):
    input_tokens: int
    output_tokens: int
    estimated: Annotated[bool, msgspec.Meta(description="True when the provider reported none and Parley counted.")]


class ToolSafety(msgspec.Struct):
    """Why the input was flagged (``PROMPT_INJECTION_POLICY=flag``); left out when it was not."""

    prompt_injection: Annotated[
        dict[str, Any], msgspec.Meta(description="`{flagged, score, reasons}`, as `POST /safety/scan` says.")
    ]


class ToolMeta(msgspec.Struct, kw_only=True, omit_defaults=True):
    model: Annotated[str, msgspec.Meta(description="The model that answered (`provider/model`).")]
    usage: ToolUsage
    cost_micros: Annotated[int, msgspec.Meta(description="Charged to your usage; 0 when `cached`.")]
    cached: Annotated[bool, msgspec.Meta(description="Served from the cache of identical requests: free.")]
    safety: Annotated[
        ToolSafety | None,
        msgspec.Meta(description="Present when the prompt-injection scanner flagged the input (it was queued)."),
    ] = None


def meta_of(outcome: ToolOutcome[Any]) -> dict[str, Any]:
    usage = ToolUsage(outcome.usage.input_tokens, outcome.usage.output_tokens, outcome.usage.estimated)
    verdict = outcome.safety
    safety = (
        ToolSafety({"flagged": True, "score": verdict.score, "reasons": list(verdict.reasons)})
        if verdict is not None
        else None
    )
    return {
        "model": outcome.model,
        "usage": usage,
        "cost_micros": outcome.cost_micros,
        "cached": outcome.cached,
        "safety": safety,
    }


class SummarizeRequest(msgspec.Struct, forbid_unknown_fields=True):
    text: Text
    max_words: Annotated[int, msgspec.Meta(ge=10, le=1000)] = 120
    format: Literal["paragraph", "bullets"] = "paragraph"
    model: ModelName = None


class SummarizeResponse(ToolMeta, kw_only=True):
    summary: str

    @classmethod
    def of(cls, outcome: ToolOutcome[SummaryResult]) -> SummarizeResponse:
        return cls(summary=outcome.result.summary, **meta_of(outcome))


class ClassifyRequest(msgspec.Struct, forbid_unknown_fields=True):
    text: Text
    labels: (
        Annotated[
            list[Annotated[str, msgspec.Meta(max_length=60)]],
            msgspec.Meta(max_length=20, description="Your own categories instead of the default ones."),
        ]
        | None
    ) = None
    model: ModelName = None


class LabelScore(msgspec.Struct):
    label: str
    score: float


class ClassifyResponse(ToolMeta, kw_only=True):
    category: str
    sentiment: Annotated[str, msgspec.Meta(description="`positive`, `neutral` or `negative`.")]
    confidence: float
    scores: list[LabelScore]

    @classmethod
    def of(cls, outcome: ToolOutcome[ClassificationResult]) -> ClassifyResponse:
        result = outcome.result
        return cls(
            category=result.category,
            sentiment=result.sentiment,
            confidence=result.confidence,
            scores=[LabelScore(label, score) for label, score in result.scores.items()],
            **meta_of(outcome),
        )


class ModerateRequest(msgspec.Struct, forbid_unknown_fields=True):
    text: Text
    model: ModelName = None


class ModerateResponse(ToolMeta, kw_only=True):
    flagged: bool
    categories: Annotated[
        dict[str, bool], msgspec.Meta(description="harassment, hate, self_harm, sexual, violence, illicit.")
    ]
    scores: dict[str, float]
    source: Annotated[str, msgspec.Meta(description="`openai` (its moderation endpoint), `model` or `rules`.")]

    @classmethod
    def of(cls, outcome: ToolOutcome[ModerationResult]) -> ModerateResponse:
        result = outcome.result
        return cls(
            flagged=result.flagged,
            categories=result.categories,
            scores=result.scores,
            source=result.source,
            **meta_of(outcome),
        )


class GenerateRequest(msgspec.Struct, forbid_unknown_fields=True):
    template: Annotated[str, msgspec.Meta(max_length=100)]
    params: dict[str, Annotated[str, msgspec.Meta(max_length=20_000)]] = msgspec.field(default_factory=dict)
    model: ModelName = None


class GenerateResponse(ToolMeta, kw_only=True):
    template: str
    text: str

    @classmethod
    def of(cls, outcome: ToolOutcome[GenerationResult]) -> GenerateResponse:
        return cls(template=outcome.result.template, text=outcome.result.text, **meta_of(outcome))


class TemplateParameterResponse(msgspec.Struct):
    name: str
    description: str
    required: bool


class TemplateResponse(msgspec.Struct):
    name: str
    description: str
    parameters: list[TemplateParameterResponse]

    @classmethod
    def of(cls, template: ToolTemplate) -> TemplateResponse:
        return cls(
            template.name,
            template.description,
            [TemplateParameterResponse(p.name, p.description, p.required) for p in template.parameters],
        )


class TemplateList(msgspec.Struct):
    items: list[TemplateResponse]
    total: int


class ToolStatResponse(msgspec.Struct):
    tool: str
    success: int
    failure: int
    cache_hit: int


class ToolStatsResponse(msgspec.Struct):
    items: list[ToolStatResponse]
    scope: Annotated[str, msgspec.Meta(description="`process`: counted by the API process that answered.")]
