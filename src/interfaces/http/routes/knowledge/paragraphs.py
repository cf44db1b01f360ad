"""Paragraphs, with the reference paragraphs service's semantics: fetch, word search, dictionary."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter, SkipValidation
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from src.application.knowledge.get_dictionary import GetDictionaryQuery
from src.application.knowledge.views import SearchParagraphsQuery
from src.domain.identity.model import Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY
from src.interfaces.http.routes.knowledge.schemas import (
    DictionaryResponse,
    ParagraphResponse,
    ParagraphSearchRequest,
    ParagraphSearchResponse,
)


class ParagraphsController(Controller):
    path = "/paragraphs"
    tags = ["paragraphs"]
    security = SECURITY

    @post(
        "/fetch",
        status_code=HTTP_201_CREATED,
        summary="Fetch and store a paragraph",
        description=(
            "One paragraph from the paragraph source (`PARAGRAPH_SOURCE_URL`, or the offline generator), stored with "
            "its word counts; the dictionary's caches are refreshed in the background. When the source is down, too "
            "slow or answers garbage: 502 `paragraph_source_failed`, and nothing is stored. Needs `knowledge:write`."
        ),
        responses={502: ResponseSpec(None, description="`paragraph_source_failed`: nothing was stored")},
    )
    async def fetch_paragraph(
        self, principal: SkipValidation[Principal], container: SkipValidation[Container]
    ) -> ParagraphResponse:
        return ParagraphResponse.of(await container.use_cases.knowledge.fetch_paragraph(principal))

    @post(
        "/search",
        status_code=HTTP_200_OK,
        summary="Search the paragraphs for words",
        description=(
            "Whole words, any case (`one` never matches `none`); `and`: every word, `or`: at least one. Oldest "
            "first, `limit`/`offset` pages, `total_count` exact. A word that is not 1-50 letters, digits or "
            "apostrophes is 422 `invalid_search_word` naming it."
        ),
    )
    async def search_paragraphs(
        self,
        data: JSONBody[ParagraphSearchRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> ParagraphSearchResponse:
        command = SearchParagraphsQuery(data.words, data.operator, data.limit, data.offset)
        return ParagraphSearchResponse.of(await container.use_cases.knowledge.search_paragraphs(principal, command))

    @get(
        "/dictionary",
        summary="The ten most frequent words, defined",
        description=(
            "Over all paragraphs, most frequent first, with definitions and phonetic from the dictionary service "
            "(`DICTIONARY_API_URL`; without one `definitions_available` is false). `exclude_stopwords=true` leaves "
            "out common English function words."
        ),
    )
    async def dictionary(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        exclude_stopwords: Annotated[bool, Parameter(description="Leave out English stop words")] = False,
    ) -> DictionaryResponse:
        view = await container.use_cases.knowledge.get_dictionary(
            principal, GetDictionaryQuery(exclude_stopwords=exclude_stopwords)
        )
        return DictionaryResponse.of(view)
