"""Wiring of the ``llm`` context: the model router every AI feature calls, and the model use cases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from src.application.llm.check_providers import CheckProviders
from src.application.llm.list_models import ListModels
from src.application.llm.ports import ChatModel, ModelCatalog, ProviderBreakers
from src.application.llm.router import ModelRouter
from src.application.shared.ports import Clock
from src.application.usage.ai_requests import AiRequestLimiter
from src.domain.usage.model import TierBudgets
from src.infrastructure.llm.metrics import PrometheusLlmMetrics
from src.infrastructure.llm.providers import ProviderModel, retry_policy
from src.infrastructure.settings import Settings


@dataclass(frozen=True, slots=True)
class ModelAccess:
    """How a use case calls a model on a member's behalf: through the router, resolving models in the
    catalog, within the member's AI request allowance and their tier's monthly budget."""

    chat_model: ChatModel
    catalog: ModelCatalog
    limiter: AiRequestLimiter
    budgets: TierBudgets


@dataclass(frozen=True, slots=True)
class LlmUseCases:
    list_models: ListModels
    check_providers: CheckProviders


def build_model_router(
    settings: Settings,
    *,
    providers: Mapping[str, ProviderModel],
    catalog: ModelCatalog,
    clock: Clock,
    breakers: ProviderBreakers,
) -> ChatModel:
    """Every model of every provider behind one port: retries, fallbacks, and a breaker per model
    (never for the offline provider's)."""
    return ModelRouter(
        providers,
        catalog,
        clock,
        breakers=breakers,
        metrics=PrometheusLlmMetrics(),
        retry=retry_policy(settings.llm),
        fallbacks=settings.llm.fallbacks,
        total_timeout=settings.llm.total_timeout,
        unbreakable=("offline",),
    )


def build_llm(*, providers: Mapping[str, ChatModel], catalog: ModelCatalog, clock: Clock) -> LlmUseCases:
    return LlmUseCases(list_models=ListModels(catalog), check_providers=CheckProviders(providers, catalog, clock))
