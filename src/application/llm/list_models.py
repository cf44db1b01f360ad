"""ListModels: the model catalog as a caller sees it, with what is available and what is the default."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.llm.ports import ModelCatalog
from src.domain.llm.model import ModelInfo


@dataclass(frozen=True, slots=True)
class ListModelsQuery:
    available_only: bool = False
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class ModelView:
    info: ModelInfo
    available: bool
    is_default: bool


@dataclass(frozen=True, slots=True)
class ModelsPage:
    items: list[ModelView]
    total: int
    limit: int
    offset: int
    default_model: str


class ListModels:
    def __init__(self, catalog: ModelCatalog) -> None:
        self._catalog = catalog

    async def __call__(self, query: ListModelsQuery) -> ModelsPage:
        """Catalog models in catalog order (only the available ones with ``available_only``)."""
        default = self._catalog.default_model
        views = [
            ModelView(info=info, available=self._catalog.is_available(info.id), is_default=info.id == default)
            for info in self._catalog.models()
        ]
        if query.available_only:
            views = [v for v in views if v.available]
        return ModelsPage(
            items=views[query.offset : query.offset + query.limit],
            total=len(views),
            limit=query.limit,
            offset=query.offset,
            default_model=default,
        )
