"""Response bodies of the model routes, with their OpenAPI descriptions."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec

from src.application.llm.list_models import ModelsPage, ModelView
from src.domain.llm.model import ModelPricing


def _dollars(micros: int) -> float:
    return float(Decimal(micros) / 1_000_000)


class ModelPrices(msgspec.Struct):
    """Per million tokens. The micro-dollar figures are exact (Parley bills with them); the dollar
    figures are the same prices for display."""

    input_micros_per_million: int
    output_micros_per_million: int
    cached_input_micros_per_million: Annotated[
        int | None, msgspec.Meta(description="Prompt tokens served from the provider's cache; null: no such price")
    ]
    input_usd_per_million: float
    output_usd_per_million: float
    cached_input_usd_per_million: float | None

    @classmethod
    def of(cls, pricing: ModelPricing) -> ModelPrices:
        cached = pricing.cached_input_per_million
        return cls(
            input_micros_per_million=pricing.input_per_million,
            output_micros_per_million=pricing.output_per_million,
            cached_input_micros_per_million=cached,
            input_usd_per_million=_dollars(pricing.input_per_million),
            output_usd_per_million=_dollars(pricing.output_per_million),
            cached_input_usd_per_million=None if cached is None else _dollars(cached),
        )


class ModelResponse(msgspec.Struct):
    id: Annotated[str, msgspec.Meta(description="`provider/model`, as chat requests name it")]
    provider: str
    name: str
    display_name: str
    available: Annotated[bool, msgspec.Meta(description="Whether its provider is configured on this server")]
    is_default: Annotated[bool, msgspec.Meta(description="The model used when a request names none")]
    context_window: Annotated[int, msgspec.Meta(description="Tokens of prompt and answer together")]
    max_output_tokens: int
    prices: ModelPrices
    capabilities: list[str]

    @classmethod
    def of(cls, view: ModelView) -> ModelResponse:
        info = view.info
        return cls(
            id=info.id,
            provider=info.provider,
            name=info.name,
            display_name=info.display_name,
            available=view.available,
            is_default=view.is_default,
            context_window=info.context_window,
            max_output_tokens=info.max_output_tokens,
            prices=ModelPrices.of(info.pricing),
            capabilities=sorted(info.capabilities),
        )


class ModelPage(msgspec.Struct):
    items: list[ModelResponse]
    total: int
    limit: int
    offset: int
    default_model: Annotated[str, msgspec.Meta(description="The id of the default model")]

    @classmethod
    def of(cls, page: ModelsPage) -> ModelPage:
        return cls(
            items=[ModelResponse.of(v) for v in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
            default_model=page.default_model,
        )
