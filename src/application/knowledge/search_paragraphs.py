"""Search the stored paragraphs for whole words, all of them (``and``) or any (``or``).

The reference service's semantics (see ``src/domain/knowledge/words.py``), answered from the
search index: never by reading every paragraph.
"""

from __future__ import annotations

from src.application.knowledge.articles import require
from src.application.knowledge.ports import KnowledgeTransaction
from src.application.knowledge.views import ParagraphSearchResult, ParagraphView, SearchParagraphsQuery
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.words import SearchQuery
from src.domain.shared.errors import InvalidInput

MAX_LIMIT = 1000


class SearchParagraphs:
    def __init__(self, uow: UnitOfWorkFactory[KnowledgeTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: SearchParagraphsQuery) -> ParagraphSearchResult:
        require(principal, Permission.KNOWLEDGE_READ)
        if not 1 <= query.limit <= MAX_LIMIT or query.offset < 0:
            raise InvalidInput(f"limit must be 1-{MAX_LIMIT} and offset at least 0")
        parsed = SearchQuery.parse(query.words, query.operator)
        async with self._uow(read_only=True) as tx:
            paragraphs, total = await tx.paragraphs.search(parsed, limit=query.limit, offset=query.offset)
        return ParagraphSearchResult(
            paragraphs=[ParagraphView.of(p) for p in paragraphs],
            total_count=total,
            limit=query.limit,
            offset=query.offset,
        )
