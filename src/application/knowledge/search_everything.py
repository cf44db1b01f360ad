"""One search over everything the caller may read: ranked hits with highlighted snippets.

``q`` is whitespace-separated search words under the rules of the paragraph search (1-20 words of
1-50 letters, digits or apostrophes; whole words, case-insensitive), combined with ``and`` (the
default) or ``or``. Each scope ranks its own hits (the database's full-text rank: ``ts_rank`` on
PostgreSQL, BM25 on SQLite; higher is better); the page shown is the best ``limit`` after
``offset`` of all scopes' hits together, ties newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from src.application.knowledge.articles import require
from src.application.knowledge.ports import RankedHit, SearchScope
from src.application.knowledge.views import SearchEverythingQuery, SearchHitView, SearchResults
from src.application.shared.ports import Transaction, UnitOfWorkFactory
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.errors import UnknownSearchScope
from src.domain.knowledge.snippets import make_snippet
from src.domain.knowledge.words import SearchQuery
from src.domain.shared.errors import InvalidInput

MAX_LIMIT = 100
#: Deeper pages are refused: each scope would rank offset + limit hits.
MAX_OFFSET = 1000


TxT = TypeVar("TxT", bound=Transaction)


class SearchEverything(Generic[TxT]):
    """Searches ``scopes``, each given the one read-only transaction (``TxT``: what they all need)."""

    def __init__(self, uow: UnitOfWorkFactory[TxT], scopes: Sequence[SearchScope[TxT]]) -> None:
        self._uow = uow
        self._scopes: dict[str, SearchScope[TxT]] = {s.name: s for s in scopes}

    @property
    def scope_names(self) -> list[str]:
        return list(self._scopes)

    async def __call__(self, principal: Principal, query: SearchEverythingQuery) -> SearchResults:
        require(principal, Permission.KNOWLEDGE_READ)
        if not 1 <= query.limit <= MAX_LIMIT or not 0 <= query.offset <= MAX_OFFSET:
            raise InvalidInput(f"limit must be 1-{MAX_LIMIT} and offset 0-{MAX_OFFSET}")
        scopes = self._chosen(query.scopes)
        parsed = SearchQuery.from_text(query.q, query.operator)
        wanted = query.offset + query.limit
        async with self._uow(read_only=True) as tx:
            ranked: list[tuple[str, RankedHit]] = []
            totals: dict[str, int] = {}
            for scope in scopes:
                ranking = await scope.rank(tx, principal, parsed, wanted)
                totals[scope.name] = ranking.total
                ranked.extend((scope.name, hit) for hit in ranking.hits)
            ranked.sort(key=lambda item: (-item[1].score, -item[1].created_at.timestamp(), item[0], item[1].id))
            page = ranked[query.offset : wanted]
            documents = {}
            for scope in scopes:
                ids = [hit.id for name, hit in page if name == scope.name]
                if ids:
                    documents[scope.name] = {d.id: d for d in await scope.load(tx, principal, ids)}
        items = []
        for name, hit in page:
            document = documents.get(name, {}).get(hit.id)
            if document is None:
                continue  # deleted between ranking and loading
            items.append(
                SearchHitView(
                    scope=name,
                    id=hit.id,
                    title=document.title,
                    snippet=make_snippet(document.text, parsed.words),
                    score=hit.score,
                    created_at=document.created_at,
                    conversation_id=document.conversation_id,
                )
            )
        return SearchResults(
            items=items, total=sum(totals.values()), limit=query.limit, offset=query.offset, totals=totals
        )

    def _chosen(self, names: Sequence[str]) -> list[SearchScope[TxT]]:
        wanted = [n.strip().lower() for n in names if n.strip()]
        if not wanted:
            return list(self._scopes.values())
        unknown = [n for n in wanted if n not in self._scopes]
        if unknown:
            raise UnknownSearchScope(
                f"unknown scope {unknown[0]!r}; the scopes are {', '.join(self._scopes)}",
                extra={"scope": unknown[0], "scopes": list(self._scopes)},
            )
        return [self._scopes[n] for n in dict.fromkeys(wanted)]
