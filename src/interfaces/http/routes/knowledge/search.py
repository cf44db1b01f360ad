"""One search over everything you may read: articles, paragraphs and your own chat messages."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter, QueryParameter, SkipValidation

from src.application.knowledge.views import SearchEverythingQuery
from src.domain.identity.model import Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY
from src.interfaces.http.paging import limit_param, offset_param
from src.interfaces.http.routes.knowledge.schemas import SearchResponse

#: `and` or `or` in any case, as SearchQuery.parse reads it.
OPERATOR_PATTERN = "^([aA][nN][dD]|[oO][rR])$"


class SearchController(Controller):
    path = "/search"
    tags = ["search"]
    security = SECURITY

    @get(
        "/",
        summary="Search everything",
        description=(
            "`q`: whitespace-separated words under the paragraph search's rules, combined with `operator` "
            "(`and`, the default, or `or`). `scope`: comma-separated scopes (`articles`: yours and everyone's "
            "published public ones; `paragraphs`: all; `messages`: your own conversations' messages), every "
            "scope when left out; an unknown one is 422 "
            "`unknown_search_scope`. Ranked best first, with highlighted snippets."
        ),
    )
    async def search(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        q: Annotated[str, Parameter(max_length=2000, description="Words to find")],
        scopes: Annotated[
            str | None, QueryParameter(name="scope", max_length=200, description="e.g. `articles,messages`")
        ] = None,
        operator: Annotated[
            str, Parameter(max_length=3, description="`and` or `or`", schema_extra={"pattern": OPERATOR_PATTERN})
        ] = "and",
        limit: Annotated[int, limit_param(100)] = 20,
        offset: Annotated[int, offset_param("Results to skip", maximum=1000)] = 0,
    ) -> SearchResponse:
        command = SearchEverythingQuery(q, (scopes or "").split(","), operator, limit, offset)
        return SearchResponse.of(await container.use_cases.knowledge.search_everything(principal, command))
