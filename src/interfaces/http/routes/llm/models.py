"""``GET /api/v1/models``: the model catalog, public (no sign-in needed)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter, SkipValidation

from src.application.llm.list_models import ListModelsQuery
from src.infrastructure.container import Container
from src.interfaces.http.paging import limit_param, offset_param
from src.interfaces.http.routes.llm.schemas import ModelPage


class ModelsController(Controller):
    path = "/models"
    tags = ["models"]

    @get(
        "/",
        opt={"public": True},
        summary="The models Parley knows",
        description=(
            "Every model of the catalog, in catalog order: whether it is `available` (its provider is "
            "configured here), its context window and output limit, its prices per million tokens (exact "
            "in micro-dollars, and in dollars for display), its capabilities, and which is the default. "
            "`available=true` lists only the available ones. No sign-in needed."
        ),
    )
    async def list_models(
        self,
        container: SkipValidation[Container],
        available: Annotated[bool, Parameter(description="Only the available models")] = False,
        limit: Annotated[int, limit_param(500)] = 100,
        offset: Annotated[int, offset_param("Models to skip")] = 0,
    ) -> ModelPage:
        query = ListModelsQuery(available_only=available, limit=limit, offset=offset)
        return ModelPage.of(await container.use_cases.llm.list_models(query))
