"""What the AI tools answer, and the templates ``generate`` fills in."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


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
    max_output_tokens: int = 600
    examples: Mapping[str, str] = field(default_factory=dict)
