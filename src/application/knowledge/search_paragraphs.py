"""Search the stored paragraphs for whole words, all of them (``and``) or any (``or``).

The reference service's semantics (see ``src/domain/knowledge/words.py``), answered from the
search index: never by reading every paragraph.
"""

from __future__ import annotations

from src.application.knowledge.articles import require
from src.application.knowledge.ports import KnowledgeTransaction
from src.application.knowledge.views import ParagraphSearchResult, ParagraphView, SearchParagraphsCommand
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.words import SearchQuery
from src.domain.shared.errors import InvalidInput

MAX_LIMIT = 1000


class SearchParagraphs:
    def __init__(self, uow: UnitOfWorkFactory[KnowledgeTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, command: SearchParagraphsCommand) -> ParagraphSearchResult:
        require(principal, Permission.KNOWLEDGE_READ)
        if not 1 <= command.limit <= MAX_LIMIT or command.offset < 0:
            raise InvalidInput(f"limit must be 1-{MAX_LIMIT} and offset at least 0")
        query = SearchQuery.parse(command.words, command.operator)
        async with self._uow(read_only=True) as tx:
            paragraphs, total = await tx.paragraphs.search(query, limit=command.limit, offset=command.offset)
        return ParagraphSearchResult(
            paragraphs=[ParagraphView.of(p) for p in paragraphs],
            total_count=total,
            limit=command.limit,
            offset=command.offset,
        )
