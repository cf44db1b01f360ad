"""ListArticles: everything the caller may read, newest first: filter by author, status, tag and words."""

from __future__ import annotations

from src.application.knowledge.articles import MAX_PAGE_SIZE, require
from src.application.knowledge.ports import ArticleFilter, KnowledgeTransaction
from src.application.knowledge.views import (
    ArticlePage,
    ArticleView,
    ListArticlesQuery,
)
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.model import normalise_tag, parse_status
from src.domain.knowledge.words import SearchQuery
from src.domain.shared.errors import InvalidInput


class ListArticles:
    """Everything the caller may read, newest first: filter by author, status, tag and words."""

    def __init__(self, uow: UnitOfWorkFactory[KnowledgeTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: ListArticlesQuery) -> ArticlePage:
        require(principal, Permission.KNOWLEDGE_READ)
        if not 1 <= query.limit <= MAX_PAGE_SIZE or query.offset < 0:
            raise InvalidInput(f"limit must be 1-{MAX_PAGE_SIZE} and offset at least 0")
        article_filter = ArticleFilter(
            reader_id=principal.user_id,
            author_id=query.author_id,
            status=parse_status(query.status) if query.status else None,
            tag=normalise_tag(query.tag) if query.tag else None,
            query=SearchQuery.from_text(query.q) if query.q and query.q.strip() else None,
        )
        async with self._uow(read_only=True) as tx:
            articles, total = await tx.articles.list(article_filter, limit=query.limit, offset=query.offset)
        return ArticlePage(
            items=[ArticleView.of(a) for a in articles], total=total, limit=query.limit, offset=query.offset
        )
