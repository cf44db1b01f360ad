"""The model catalog: a TOML file of models, limits and prices (data, not code).

The shipped file is ``models.toml`` beside this module; ``MODEL_CATALOG_PATH`` replaces it. A model
is available when its provider is configured; the offline provider always is.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from src.domain.llm.errors import UnknownModel
from src.domain.llm.model import ModelId, ModelInfo, ModelPricing

SHIPPED_CATALOG = Path(__file__).with_name("models.toml")
OFFLINE_PROVIDER = "offline"
FALLBACK_DEFAULT_MODEL = "offline/echo"


class CatalogError(Exception):
    """The catalog file is unreadable or describes a model badly; the message says where."""


class FileModelCatalog:
    def __init__(
        self, models: Iterable[ModelInfo], configured_providers: Iterable[str], default_model: str | None
    ) -> None:
        self._models = {m.id: m for m in models}
        self._providers = frozenset({*configured_providers, OFFLINE_PROVIDER})
        # Without DEFAULT_MODEL: the first available model of the catalog that is not offline.
        if default_model is None:
            online = [m for m in self.available_ids() if ModelId.parse(m).provider != OFFLINE_PROVIDER]
            default_model = online[0] if online else FALLBACK_DEFAULT_MODEL
        self._default = default_model

    @classmethod
    def load(
        cls, path: Path | None, *, configured_providers: Iterable[str], default_model: str | None
    ) -> FileModelCatalog:
        return cls(read_catalog(path or SHIPPED_CATALOG), configured_providers, default_model)

    @property
    def default_model(self) -> str:
        return self._default

    @property
    def configured_providers(self) -> frozenset[str]:
        return self._providers

    def models(self) -> Sequence[ModelInfo]:
        return list(self._models.values())

    def get(self, model_id: str) -> ModelInfo | None:
        return self._models.get(model_id)

    def is_available(self, model_id: str) -> bool:
        info = self._models.get(model_id)
        return info is not None and info.provider in self._providers

    def available_ids(self) -> list[str]:
        return [m.id for m in self._models.values() if m.provider in self._providers]

    def resolve(self, model_id: str | None) -> ModelInfo:
        wanted = model_id or self._default
        info = self._models.get(wanted)
        if info is None or not self.is_available(wanted):
            ModelId.parse(wanted)  # a malformed id says how ids are written
            reason = "is not in the model catalog" if info is None else "belongs to a provider that is not configured"
            raise UnknownModel(
                f"model {wanted!r} {reason}; available: {', '.join(self.available_ids())}",
                extra={"model": wanted, "available": self.available_ids()},
            )
        return info


def read_catalog(path: Path) -> list[ModelInfo]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(f"model catalog {path}: {exc}") from exc
    entries = document.get("models")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"model catalog {path}: no [[models]] entries")
    models: list[ModelInfo] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        where = f"model catalog {path}, entry {index}"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: not a table")
        model = _model(entry, where)
        if model.id in seen:
            raise CatalogError(f"{where}: {model.id} appears twice")
        seen.add(model.id)
        models.append(model)
    return models


def _model(entry: dict[str, Any], where: str) -> ModelInfo:
    raw_id = entry.get("id")
    if not isinstance(raw_id, str):
        raise CatalogError(f"{where}: `id` (provider/model) is required")
    try:
        model_id = ModelId.parse(raw_id)
    except UnknownModel as exc:
        raise CatalogError(f"{where}: {exc.detail}") from None
    where = f"{where} ({model_id})"
    capabilities = entry.get("capabilities", [])
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        raise CatalogError(f"{where}: `capabilities` must be a list of strings")
    cached = entry.get("cached_input")
    return ModelInfo(
        id=str(model_id),
        display_name=str(entry.get("display_name") or model_id),
        context_window=_positive_int(entry, "context_window", where),
        max_output_tokens=_positive_int(entry, "max_output_tokens", where),
        pricing=ModelPricing(
            input_per_million=_micros(entry.get("input", 0), "input", where),
            output_per_million=_micros(entry.get("output", 0), "output", where),
            cached_input_per_million=None if cached is None else _micros(cached, "cached_input", where),
        ),
        capabilities=frozenset(capabilities),
    )


def _positive_int(entry: dict[str, Any], key: str, where: str) -> int:
    value = entry.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise CatalogError(f"{where}: `{key}` must be a positive integer")
    return value


def _micros(value: object, key: str, where: str) -> int:
    """Dollars per million tokens -> micro-dollars per million tokens, exactly (no float rounding)."""
    try:
        dollars = Decimal(str(value))
    except InvalidOperation:
        raise CatalogError(f"{where}: `{key}` must be a price in dollars per million tokens") from None
    if isinstance(value, bool) or not dollars.is_finite() or dollars < 0:
        raise CatalogError(f"{where}: `{key}` must be a price in dollars per million tokens")
    return int((dollars * 1_000_000).to_integral_value())
