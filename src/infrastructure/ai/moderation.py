"""``ModerationService`` on OpenAI's ``POST /moderations`` (free of charge; used when an OpenAI key is set).

OpenAI's categories are folded into Parley's six: ``harassment/threatening`` counts as
``harassment``, ``self-harm/intent`` as ``self_harm``, ..., each scoring the highest of its parts.
"""

from __future__ import annotations

import openai

from src.domain.ai.model import ModerationCategory, ModerationSource, ModerationVerdict
from src.infrastructure.llm.openai import DEFAULT_BASE_URL
from src.infrastructure.llm.openai_wire import map_openai_style_error

MODERATION_MODEL = "omni-moderation-latest"
PARLEY_CATEGORIES = frozenset(c.value for c in ModerationCategory)


def fold_categories(scores: dict[str, float]) -> dict[str, float]:
    folded: dict[str, float] = {}
    for name, score in scores.items():
        category = name.split("/")[0].replace("-", "_")
        if category in PARLEY_CATEGORIES and score is not None:
            folded[category] = max(folded.get(category, 0.0), float(score))
    return folded


class OpenAIModeration:
    def __init__(self, *, api_key: str, base_url: str | None, timeout: float, connect_timeout: float) -> None:
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url or DEFAULT_BASE_URL,
            timeout=openai.Timeout(timeout, connect=connect_timeout),
            max_retries=1,
        )

    async def moderate(self, text: str) -> ModerationVerdict:
        try:
            response = await self._client.moderations.create(model=MODERATION_MODEL, input=text)
        except Exception as exc:  # every SDK and transport failure becomes a ProviderError
            raise map_openai_style_error(exc, "openai", openai) from exc
        result = response.results[0]
        scores = fold_categories(result.category_scores.model_dump(by_alias=True))
        flagged_by_openai = fold_categories(
            {k: 1.0 if v else 0.0 for k, v in result.categories.model_dump(by_alias=True).items() if v is not None}
        )
        verdict = ModerationVerdict.of_scores(scores, ModerationSource.OPENAI)
        # OpenAI's own per-category decisions win over a plain 0.5 threshold.
        categories = {name: flagged_by_openai.get(name, 0.0) >= 1.0 for name in verdict.categories}
        return ModerationVerdict(any(categories.values()), categories, verdict.scores, ModerationSource.OPENAI)

    async def aclose(self) -> None:
        await self._client.close()
