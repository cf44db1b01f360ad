"""In-memory fakes of the knowledge ports, implementing the same Protocols as the adapters.

The repositories search with the domain's own rule (a word matches a text when it is one of the
text's ``index_terms``), which the real indexes are tested against in tests/integration.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from src.application.knowledge.ports import ArticleFilter, RankedHit, Ranking
from src.domain.knowledge.errors import DictionaryLookupFailed, ParagraphSourceFailed
from src.domain.knowledge.model import Article, Paragraph, WordDefinition, WordFrequency
from src.domain.knowledge.words import SearchQuery, index_terms

T = TypeVar("T")


@dataclass
class KnowledgeTables:
    articles: dict[uuid.UUID, Article] = field(default_factory=dict)
    #: In the order they were stored.
    paragraphs: dict[uuid.UUID, Paragraph] = field(default_factory=dict)
    word_counts: Counter[str] = field(default_factory=Counter)

    def copy(self) -> KnowledgeTables:
        return KnowledgeTables(
            articles={k: dataclasses.replace(v) for k, v in self.articles.items()},
            paragraphs=dict(self.paragraphs),
            word_counts=Counter(self.word_counts),
        )


def _score(query: SearchQuery, *texts: str) -> float:
    terms = Counter(t.text for text in texts for t in index_terms(text))
    return float(sum(terms[w] for w in query.words))


class InMemoryArticleRepository:
    def __init__(self, tables: KnowledgeTables) -> None:
        self._tables = tables

    async def add(self, article: Article) -> None:
        self._tables.articles[article.id] = dataclasses.replace(article)

    async def get(self, article_id: uuid.UUID) -> Article | None:
        found = self._tables.articles.get(article_id)
        return dataclasses.replace(found) if found is not None else None

    async def get_many(self, article_ids: Sequence[uuid.UUID]) -> list[Article]:
        return [dataclasses.replace(self._tables.articles[i]) for i in article_ids if i in self._tables.articles]

    async def save(self, article: Article) -> None:
        if article.id not in self._tables.articles:
            raise LookupError(f"article {article.id} does not exist")
        self._tables.articles[article.id] = dataclasses.replace(article)

    async def delete(self, article_id: uuid.UUID) -> None:
        self._tables.articles.pop(article_id, None)

    async def list(self, article_filter: ArticleFilter, *, limit: int, offset: int) -> tuple[list[Article], int]:
        def wanted(a: Article) -> bool:
            query = article_filter.query
            return (
                a.is_readable_by(article_filter.reader_id)
                and (article_filter.author_id is None or a.author_id == article_filter.author_id)
                and (article_filter.status is None or a.status is article_filter.status)
                and (article_filter.tag is None or article_filter.tag in a.tags)
                and (query is None or query.matches_terms(t.text for x in (a.title, a.body) for t in index_terms(x)))
            )

        found = sorted(filter(wanted, self._tables.articles.values()), key=lambda a: (a.created_at, a.id), reverse=True)
        return [dataclasses.replace(a) for a in found[offset : offset + limit]], len(found)

    async def rank(
        self,
        query: SearchQuery,
        *,
        reader_id: uuid.UUID,
        limit: int,
        author_id: uuid.UUID | None = None,
        tags: Sequence[str] | None = None,
    ) -> Ranking:
        hits = [
            RankedHit(a.id, _score(query, a.title, a.body), a.created_at)
            for a in self._tables.articles.values()
            if a.is_readable_by(reader_id)
            and (author_id is None or a.author_id == author_id)
            and (tags is None or any(t in a.tags for t in tags))
            and query.matches_terms(t.text for x in (a.title, a.body) for t in index_terms(x))
        ]
        hits.sort(key=lambda h: (-h.score, -h.created_at.timestamp()))
        return Ranking(hits[:limit], len(hits))


class InMemoryParagraphRepository:
    def __init__(self, tables: KnowledgeTables) -> None:
        self._tables = tables

    async def add(self, paragraph: Paragraph) -> None:
        self._tables.paragraphs[paragraph.id] = paragraph

    async def get_many(self, paragraph_ids: Sequence[uuid.UUID]) -> list[Paragraph]:
        return [self._tables.paragraphs[i] for i in paragraph_ids if i in self._tables.paragraphs]

    def _matching(self, query: SearchQuery) -> list[Paragraph]:
        return [
            p for p in self._tables.paragraphs.values() if query.matches_terms(t.text for t in index_terms(p.content))
        ]

    async def search(self, query: SearchQuery, *, limit: int, offset: int) -> tuple[list[Paragraph], int]:
        found = self._matching(query)
        return found[offset : offset + limit], len(found)

    async def rank(self, query: SearchQuery, *, limit: int) -> Ranking:
        hits = [RankedHit(p.id, _score(query, p.content), p.created_at) for p in self._matching(query)]
        hits.sort(key=lambda h: (-h.score, -h.created_at.timestamp()))
        return Ranking(hits[:limit], len(hits))


class InMemoryWordCountRepository:
    def __init__(self, tables: KnowledgeTables) -> None:
        self._tables = tables
        self.reads = 0

    async def add(self, counts: Mapping[str, int]) -> None:
        self._tables.word_counts.update(counts)

    async def top(self, limit: int, *, excluding: frozenset[str] = frozenset()) -> list[WordFrequency]:
        ranked = sorted(
            ((w, c) for w, c in self._tables.word_counts.items() if w not in excluding and c > 0),
            key=lambda item: (-item[1], item[0]),
        )
        return [WordFrequency(w, c) for w, c in ranked[:limit]]

    async def counts(self, words: Sequence[str]) -> dict[str, int]:
        return {w: self._tables.word_counts[w] for w in words if self._tables.word_counts[w] > 0}


class FakeParagraphSource:
    """Answers the texts it is given, in turn; ``fail_with`` makes the next fetches fail."""

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)
        self.fail_with: str | None = None
        self.calls = 0

    async def fetch(self) -> str:
        self.calls += 1
        if self.fail_with is not None:
            raise ParagraphSourceFailed(self.fail_with)
        return self.texts.pop(0)


class FakeDictionary:
    """Knows the words it is given; ``failing`` words cannot be looked up. Records every lookup and
    how many ran at once."""

    def __init__(self, known: Mapping[str, WordDefinition] | None = None, *, available: bool = True) -> None:
        self.known = dict(known or {})
        self.available = available
        self.failing: set[str] = set()
        self.lookups: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self.delay = 0.0

    async def define(self, word: str) -> WordDefinition:
        self.lookups.append(word)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.delay)
            if word in self.failing:
                raise DictionaryLookupFailed(f"no answer for {word!r}")
            return self.known.get(word, WordDefinition(word, found=False))
        finally:
            self.running -= 1


class RecordingCache:
    """A cache that keeps values as given and records every call, in order, as ``(op, key)``.

    ``down`` makes it behave like a cache whose backend is unreachable: every get misses, every
    set is dropped (the Cache port's contract).
    """

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.ttls: dict[str, float] = {}
        self.calls: list[tuple[str, str]] = []
        self.down = False

    async def get(self, key: str, type_: type[T]) -> T | None:
        await asyncio.sleep(0)
        self.calls.append(("get", key))
        if self.down:
            return None
        value = self.values.get(key)
        return value if isinstance(value, type_) else None

    async def set(self, key: str, value: Any, ttl_seconds: float) -> None:
        await asyncio.sleep(0)
        self.calls.append(("set", key))
        if not self.down:
            self.values[key] = value
            self.ttls[key] = ttl_seconds

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self.calls.append(("delete", key))
            self.values.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        doomed = [k for k in self.values if k.startswith(prefix)]
        for key in doomed:
            del self.values[key]
        return len(doomed)


class KnowledgeRepositories:
    """The knowledge context's repositories in a fake unit of work (``tests.fakes.shared.InMemoryUnitOfWork``)."""

    knowledge_tables: KnowledgeTables

    @property
    def articles(self) -> InMemoryArticleRepository:
        return InMemoryArticleRepository(self.knowledge_tables)

    @property
    def paragraphs(self) -> InMemoryParagraphRepository:
        return InMemoryParagraphRepository(self.knowledge_tables)

    @property
    def word_counts(self) -> InMemoryWordCountRepository:
        return InMemoryWordCountRepository(self.knowledge_tables)
