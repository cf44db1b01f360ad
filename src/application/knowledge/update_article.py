"""UpdateArticle: the author changes their article."""

from __future__ import annotations

from src.application.knowledge.articles import own_article, require, require_publisher_of_public
from src.application.knowledge.ports import KnowledgeTransaction
from src.application.knowledge.views import (
    ArticleView,
    UpdateArticleCommand,
)
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.model import parse_status, parse_visibility


class UpdateArticle:
    def __init__(self, uow: UnitOfWorkFactory[KnowledgeTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: UpdateArticleCommand) -> ArticleView:
        require(principal, Permission.KNOWLEDGE_WRITE)
        async with self._uow() as tx:
            article = await own_article(tx, principal, command.article_id)
            article.edit(
                now=self._clock.now(),
                title=command.title,
                body=command.body,
                tags=command.tags,
                status=parse_status(command.status) if command.status is not None else None,
                visibility=parse_visibility(command.visibility) if command.visibility is not None else None,
            )
            require_publisher_of_public(principal, article)
            await tx.articles.save(article)
        return ArticleView.of(article)
