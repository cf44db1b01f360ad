"""CreateArticle: the caller writes an article (a public one needs knowledge:publish)."""

from __future__ import annotations

from src.application.knowledge.articles import require, require_publisher_of_public
from src.application.knowledge.ports import KnowledgeTransaction
from src.application.knowledge.views import (
    ArticleView,
    CreateArticleCommand,
)
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.model import Article, parse_status, parse_visibility


class CreateArticle:
    def __init__(self, uow: UnitOfWorkFactory[KnowledgeTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: CreateArticleCommand) -> ArticleView:
        require(principal, Permission.KNOWLEDGE_WRITE)
        now = self._clock.now()
        article = Article.write(
            id=new_id(now),
            author_id=principal.user_id,
            title=command.title,
            body=command.body,
            tags=command.tags,
            status=parse_status(command.status),
            visibility=parse_visibility(command.visibility),
            now=now,
        )
        require_publisher_of_public(principal, article)
        async with self._uow() as tx:
            await tx.articles.add(article)
        return ArticleView.of(article)
