"""The scopes ``GET /api/v1/search`` looks through, one small adapter each (see ``SearchScope``).

A scope ranks hits with its repository's index and loads the documents of the page shown. Adding
a scope (the chat slice's ``messages``) is one class like these, registered in the container.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from src.application.knowledge.ports import KnowledgeTransaction, Ranking, SearchDocument
from src.domain.identity.model import Principal
from src.domain.knowledge.words import SearchQuery


class ArticleSearchScope:
    """The caller's own articles (drafts and private ones included) and everyone's published public ones."""

    name = "articles"

    async def rank(self, tx: KnowledgeTransaction, principal: Principal, query: SearchQuery, limit: int) -> Ranking:
        return await tx.articles.rank(query, reader_id=principal.user_id, limit=limit)

    async def load(
        self, tx: KnowledgeTransaction, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> list[SearchDocument]:
        articles = await tx.articles.get_many(ids)
        return [
            SearchDocument(id=a.id, title=a.title, text=a.body or a.title, created_at=a.created_at)
            for a in articles
            if a.is_readable_by(principal.user_id)
        ]


class ParagraphSearchScope:
    """Every stored paragraph (paragraphs belong to no one)."""

    name = "paragraphs"

    async def rank(self, tx: KnowledgeTransaction, principal: Principal, query: SearchQuery, limit: int) -> Ranking:
        return await tx.paragraphs.rank(query, limit=limit)

    async def load(
        self, tx: KnowledgeTransaction, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> list[SearchDocument]:
        paragraphs = await tx.paragraphs.get_many(ids)
        return [SearchDocument(id=p.id, title=None, text=p.content, created_at=p.created_at) for p in paragraphs]
