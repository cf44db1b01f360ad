"""What the AI tools answer, and the templates ``generate`` fills in."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from src.domain.ai.errors import InvalidTemplateParameters


class ModerationCategory(enum.StrEnum):
    HARASSMENT = "harassment"
    HATE = "hate"
    SELF_HARM = "self_harm"
    SEXUAL = "sexual"
    VIOLENCE = "violence"
    ILLICIT = "illicit"


class ModerationSource(enum.StrEnum):
    """Who judged: OpenAI's moderation endpoint, a model asked with a prompt, or Parley's own rules."""

    OPENAI = "openai"
    MODEL = "model"
    RULES = "rules"


@dataclass(frozen=True, slots=True)
class ModerationVerdict:
    flagged: bool
    categories: Mapping[str, bool]
    scores: Mapping[str, float]
    source: ModerationSource

    @classmethod
    def of_scores(
        cls, scores: Mapping[str, float], source: ModerationSource, threshold: float = 0.5
    ) -> ModerationVerdict:
        """Every category present (missing ones score 0); flagged where a score reaches ``threshold``."""
        full = {c.value: round(float(scores.get(c.value, 0.0)), 4) for c in ModerationCategory}
        categories = {name: score >= threshold for name, score in full.items()}
        return cls(any(categories.values()), categories, full, source)


@dataclass(frozen=True, slots=True)
class TemplateParameter:
    name: str
    description: str = ""
    required: bool = True


@dataclass(frozen=True, slots=True)
class ToolTemplate:
    """A ``generate`` template: its instructions to the model and the ``{parameters}`` it fills in."""

    name: str
    description: str
    parameters: tuple[TemplateParameter, ...]
    #: The prompt, with ``{name}`` for each parameter.
    prompt: str
    #: What the offline model answers: a plain draft with the same ``{parameters}``.
    draft: str = ""
    max_output_tokens: int = 600

    def bind(self, params: Mapping[str, str]) -> dict[str, str]:
        """The parameters to fill in: a missing required one or an unknown one is ``invalid_template_parameters``."""
        declared = {p.name for p in self.parameters}
        unknown = sorted(set(params) - declared)
        missing = sorted(p.name for p in self.parameters if p.required and not str(params.get(p.name, "")).strip())
        if unknown or missing:
            problems = []
            if missing:
                problems.append(f"missing: {', '.join(missing)}")
            if unknown:
                problems.append(f"unknown: {', '.join(unknown)}")
            raise InvalidTemplateParameters(
                f"template {self.name!r} parameters {'; '.join(problems)}",
                extra={"missing": missing, "unknown": unknown, "declared": sorted(declared)},
            )
        return {p.name: str(params.get(p.name, "")).strip() for p in self.parameters}

    def render(self, params: Mapping[str, str]) -> str:
        return self.prompt.format_map(self.bind(params))

    def render_draft(self, params: Mapping[str, str]) -> str:
        return re.sub(r"[ \t]{2,}", " ", self.draft.format_map(self.bind(params))).strip()


Sentiment = Literal["positive", "neutral", "negative"]
SENTIMENTS: tuple[str, ...] = ("positive", "neutral", "negative")


@dataclass(frozen=True, slots=True)
class ModelClassification:
    """The JSON a model must answer to ``classify``."""

    category: str
    sentiment: Sentiment
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelModeration:
    """The JSON a model must answer to ``moderate``: a score from 0 to 1 per category."""

    scores: dict[str, float]


# -- what the tools answer (cached as they are) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SummaryResult:
    summary: str


@dataclass(frozen=True, slots=True)
class ClassificationResult:
    category: str
    sentiment: str
    confidence: float
    #: label -> score, best first.
    scores: dict[str, float]


@dataclass(frozen=True, slots=True)
class ModerationResult:
    flagged: bool
    categories: dict[str, bool]
    scores: dict[str, float]
    source: str

    @classmethod
    def of(cls, verdict: ModerationVerdict) -> ModerationResult:
        return cls(verdict.flagged, dict(verdict.categories), dict(verdict.scores), verdict.source.value)


@dataclass(frozen=True, slots=True)
class GenerationResult:
    template: str
    text: str
