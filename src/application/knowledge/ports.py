"""Ports of the knowledge context.

Adapters: src/infrastructure/persistence/knowledge_repositories.py (repositories, with the search
indexes of PostgreSQL and SQLite), src/infrastructure/external/ (the paragraph source and the
dictionary service, each with an offline default); fakes: tests/fakes/knowledge.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from src.application.shared.ports import Transaction
from src.domain.identity.model import Principal
from src.domain.knowledge.model import Article, ArticleStatus, Paragraph, WordDefinition, WordFrequency
from src.domain.knowledge.words import SearchQuery


@dataclass(frozen=True, slots=True)
class RankedHit:
    """One search result before it is loaded: what it is, how well it matched, when it was made."""

    id: uuid.UUID
    score: float
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Ranking:
    """The best hits of a search, best first, and how many there are in all."""

    hits: list[RankedHit]
    total: int


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    """Articles ``reader_id`` may read (their own, and everyone's published public ones), narrowed."""

    reader_id: uuid.UUID
    author_id: uuid.UUID | None = None
    status: ArticleStatus | None = None
    tag: str | None = None
    #: Only articles whose title or body hold these words (the search's rules).
    query: SearchQuery | None = None


class ArticleRepository(Protocol):
    async def add(self, article: Article) -> None: ...

    async def get(self, article_id: uuid.UUID) -> Article | None: ...

    async def get_many(self, article_ids: Sequence[uuid.UUID]) -> list[Article]:
        """The articles that exist among ``article_ids``, in no particular order."""
        ...

    async def save(self, article: Article) -> None:
        """Persist changes to an existing article (its tags and search index with it)."""
        ...

    async def delete(self, article_id: uuid.UUID) -> None: ...

    async def list(self, article_filter: ArticleFilter, *, limit: int, offset: int) -> tuple[list[Article], int]:
        """Matching articles, newest first, and how many match in all."""
        ...

    async def rank(
        self,
        query: SearchQuery,
        *,
        reader_id: uuid.UUID,
        limit: int,
        author_id: uuid.UUID | None = None,
        tags: Sequence[str] | None = None,
    ) -> Ranking:
        """Articles ``reader_id`` may read that match ``query``, best first (at most ``limit``);
        only ``author_id``'s with it, only those carrying one of ``tags`` with them."""
        ...


class ParagraphRepository(Protocol):
    async def add(self, paragraph: Paragraph) -> None:
        """Store a paragraph and index its terms (``index_terms``), in the caller's transaction."""
        ...

    async def get_many(self, paragraph_ids: Sequence[uuid.UUID]) -> list[Paragraph]: ...

    async def search(self, query: SearchQuery, *, limit: int, offset: int) -> tuple[list[Paragraph], int]:
        """Paragraphs matching ``query``, oldest first, answered from the index; and the exact total."""
        ...

    async def rank(self, query: SearchQuery, *, limit: int) -> Ranking:
        """Paragraphs matching ``query``, best first (at most ``limit``)."""
        ...


class WordCountRepository(Protocol):
    """How often each word occurs over all paragraphs, kept up to date as paragraphs arrive."""

    async def add(self, counts: Mapping[str, int]) -> None:
        """Add ``counts`` to the totals, atomically: concurrent writers never lose an update."""
        ...

    async def top(self, limit: int, *, excluding: frozenset[str] = frozenset()) -> list[WordFrequency]:
        """The ``limit`` most frequent words not in ``excluding``: most frequent first, ties by word."""
        ...

    async def counts(self, words: Sequence[str]) -> dict[str, int]:
        """How often each of ``words`` occurs (words that never do are left out): one indexed read."""
        ...


class KnowledgeTransaction(Transaction, Protocol):
    """The knowledge context's repositories, in one transaction."""

    @property
    def articles(self) -> ArticleRepository: ...

    @property
    def paragraphs(self) -> ParagraphRepository: ...

    @property
    def word_counts(self) -> WordCountRepository: ...


class ParagraphSource(Protocol):
    """Where paragraphs come from: a metaphorpsum-compatible service, or the offline generator."""

    async def fetch(self) -> str:
        """One paragraph's text; raises ``ParagraphSourceFailed`` when the source is down, slow or
        answers something that is not text."""
        ...


class Dictionary(Protocol):
    """Definitions of English words: a dictionaryapi.dev-compatible service, or none (offline)."""

    @property
    def available(self) -> bool:
        """False for the offline stand-in, which knows no definitions."""
        ...

    async def define(self, word: str) -> WordDefinition:
        """The word's definitions (``found=False`` for a word the dictionary does not know); raises
        ``DictionaryLookupFailed`` when the service could not be asked."""
        ...


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """A search result loaded for display: its snippet is cut from ``text``."""

    id: uuid.UUID
    title: str | None
    text: str
    created_at: datetime
    #: Where a message hit lives (the ``messages`` scope); ``None`` for the other scopes.
    conversation_id: uuid.UUID | None = None


TxT_contra = TypeVar("TxT_contra", bound=Transaction, contravariant=True)


class SearchScope(Protocol[TxT_contra]):
    """One kind of thing ``GET /api/v1/search`` looks through (articles, paragraphs, messages).

    A scope only ever finds what ``principal`` may read. Both calls run inside the search's one
    read-only unit of work.
    """

    @property
    def name(self) -> str: ...

    async def rank(self, tx: TxT_contra, principal: Principal, query: SearchQuery, limit: int) -> Ranking:
        """The best ``limit`` hits, best first, and the total number of hits."""
        ...

    async def load(self, tx: TxT_contra, principal: Principal, ids: Sequence[uuid.UUID]) -> list[SearchDocument]:
        """The documents of hits ``rank`` returned (those still there)."""
        ...
