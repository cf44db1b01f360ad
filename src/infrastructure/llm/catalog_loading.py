"""The model catalog as settings describe it: which providers are configured, the catalog file,
the default model and the fallback chain, checked once at start-up.

Kept apart from ``providers.py`` (which builds the provider adapters and their Redis-backed
breakers) so that reading the catalog, e.g. ``parley models``, imports none of that.
"""

from __future__ import annotations

from collections.abc import Sequence

from src.application.llm.ports import ModelCatalog
from src.domain.llm.model import ModelId
from src.infrastructure.llm.catalog import CatalogError, FileModelCatalog
from src.infrastructure.logging import get_logger
from src.infrastructure.settings import ConfigError, Settings

logger = get_logger("parley.llm")


def configured_provider_names(settings: Settings) -> list[str]:
    """The online providers an adapter is built for (``build_llm_providers``), offline left out."""
    return list(settings.llm.configured_providers)


def build_model_catalog(settings: Settings, configured_providers: Sequence[str] = ()) -> FileModelCatalog:
    try:
        catalog = FileModelCatalog.load(
            settings.llm.catalog_path,
            configured_providers=configured_providers,
            default_model=settings.llm.default_model,
        )
    except CatalogError as exc:
        raise ConfigError("MODEL_CATALOG_PATH", f"is not a usable model catalog: {exc}") from None
    if settings.llm.default_model is not None and not catalog.is_available(settings.llm.default_model):
        raise ConfigError(
            "DEFAULT_MODEL",
            f"is {settings.llm.default_model!r}, which is not an available catalog model "
            f"(available: {', '.join(catalog.available_ids())})",
        )
    check_fallbacks(settings, catalog)
    return catalog


def check_fallbacks(settings: Settings, catalog: ModelCatalog) -> None:
    """Every model of ``LLM_FALLBACKS`` must be in the catalog; one whose provider is not configured
    is skipped when calls are made (and said so now, once)."""
    for model_id in settings.llm.fallbacks.model_ids():
        if catalog.get(model_id) is None:
            raise ConfigError(
                "LLM_FALLBACKS", f"names {model_id!r}, which is not in the model catalog (see `parley models`)"
            )
        if not catalog.is_available(model_id):
            logger.warning(
                "llm_fallback_unavailable",
                model=model_id,
                reason=f"the {ModelId.parse(model_id).provider} provider is not configured; it is skipped",
            )
