"""Articles: your own to write, change and delete; everyone's published public ones to read."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody, Parameter, SkipValidation
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from src.application.knowledge.delete_article import DeleteArticleCommand
from src.application.knowledge.get_article import GetArticleQuery
from src.application.knowledge.summarize_article import SummarizeArticleCommand
from src.application.knowledge.views import CreateArticleCommand, ListArticlesQuery, UpdateArticleCommand
from src.domain.identity.model import Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY
from src.interfaces.http.paging import limit_param, offset_param
from src.interfaces.http.routes.knowledge.schemas import (
    ArticleList,
    ArticleResponse,
    CreateArticleRequest,
    SummaryResponse,
    UpdateArticleRequest,
)

NOT_YOURS = "Another user's private or draft article is 404 `article_not_found`, never 403."


class ArticlesController(Controller):
    path = "/articles"
    tags = ["articles"]
    security = SECURITY

    @post("/", status_code=HTTP_201_CREATED, summary="Write an article", description="Needs `knowledge:write`.")
    async def create_article(
        self,
        data: JSONBody[CreateArticleRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> ArticleResponse:
        command = CreateArticleCommand(data.title, data.body, data.tags, data.status, data.visibility)
        return ArticleResponse.of(await container.use_cases.knowledge.create_article(principal, command))

    @get(
        "/",
        summary="List articles",
        description=(
            "Your articles and everyone's published public ones, newest first. `author` (a user id, or `me`), "
            "`status`, `tag` and `q` (whitespace-separated words, all of which must be in the title or body, "
            "under the paragraph search's rules) narrow the list."
        ),
    )
    async def list_articles(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        author: Annotated[str | None, Parameter(max_length=36, description="A user id, or `me`")] = None,
        status: Annotated[str | None, Parameter(max_length=20, description="`draft` or `published`")] = None,
        tag: Annotated[str | None, Parameter(max_length=100)] = None,
        q: Annotated[str | None, Parameter(max_length=2000, description="Words to find")] = None,
        limit: Annotated[int, limit_param(100)] = 20,
        offset: Annotated[int, offset_param("Articles to skip")] = 0,
    ) -> ArticleList:
        author_id = principal.user_id if author == "me" else _uuid_or_none(author)
        command = ListArticlesQuery(author_id, status or None, tag or None, q, limit, offset)
        return ArticleList.of(await container.use_cases.knowledge.list_articles(principal, command))

    @get("/{article_id:uuid}", summary="Read an article", description=NOT_YOURS)
    async def get_article(
        self,
        article_id: FromPath[uuid.UUID],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> ArticleResponse:
        return ArticleResponse.of(
            await container.use_cases.knowledge.get_article(principal, GetArticleQuery(article_id))
        )

    @patch(
        "/{article_id:uuid}",
        summary="Change your article",
        description="Only the fields sent change; tags are replaced as a whole. Only the author may. " + NOT_YOURS,
    )
    async def update_article(
        self,
        article_id: FromPath[uuid.UUID],
        data: JSONBody[UpdateArticleRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> ArticleResponse:
        command = UpdateArticleCommand(article_id, data.title, data.body, data.tags, data.status, data.visibility)
        return ArticleResponse.of(await container.use_cases.knowledge.update_article(principal, command))

    @delete(
        "/{article_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete your article",
        description="Only the author may. " + NOT_YOURS,
    )
    async def delete_article(
        self,
        article_id: FromPath[uuid.UUID],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> None:
        await container.use_cases.knowledge.delete_article(principal, DeleteArticleCommand(article_id))

    @post(
        "/{article_id:uuid}/summarize",
        status_code=HTTP_200_OK,
        summary="Summarize an article",
        description=(
            "A summary by the default model, cached by the hash of the model, title and body (`cached` says "
            "whether it came from the cache). Any article you may read. A summary that asks the model counts "
            "against your AI requests per minute and your monthly budget (429 `rate_limited` / "
            "`budget_exceeded`) and is recorded in your usage; a cached one is free."
        ),
    )
    async def summarize_article(
        self,
        article_id: FromPath[uuid.UUID],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> SummaryResponse:
        return SummaryResponse.of(
            await container.use_cases.knowledge.summarize_article(principal, SummarizeArticleCommand(article_id))
        )


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    """A malformed author id matches no author (an empty list), as an unknown one does."""
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return uuid.UUID(int=0)
