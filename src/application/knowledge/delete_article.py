"""DeleteArticle: the author deletes their article."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.knowledge.articles import own_article, require
from src.application.knowledge.ports import KnowledgeTransaction
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.model import Permission, Principal


@dataclass(frozen=True, slots=True)
class DeleteArticleCommand:
    article_id: uuid.UUID


class DeleteArticle:
    def __init__(self, uow: UnitOfWorkFactory[KnowledgeTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, command: DeleteArticleCommand) -> None:
        require(principal, Permission.KNOWLEDGE_WRITE)
        async with self._uow() as tx:
            await own_article(tx, principal, command.article_id)
            await tx.articles.delete(command.article_id)
