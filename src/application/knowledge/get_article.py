"""GetArticle: one article the caller may read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.knowledge.articles import readable_article, require
from src.application.knowledge.ports import KnowledgeTransaction
from src.application.knowledge.views import (
    ArticleView,
)
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.model import Permission, Principal


@dataclass(frozen=True, slots=True)
class GetArticleQuery:
    article_id: uuid.UUID


class GetArticle:
    def __init__(self, uow: UnitOfWorkFactory[KnowledgeTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: GetArticleQuery) -> ArticleView:
        require(principal, Permission.KNOWLEDGE_READ)
        async with self._uow(read_only=True) as tx:
            return ArticleView.of(await readable_article(tx, principal, query.article_id))
