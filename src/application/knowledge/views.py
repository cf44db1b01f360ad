"""What the knowledge use cases take and return."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from src.domain.knowledge.model import Article, ArticleStatus, Paragraph, Visibility


@dataclass(frozen=True, slots=True)
class ArticleView:
    id: uuid.UUID
    author_id: uuid.UUID
    title: str
    body: str
    tags: tuple[str, ...]
    status: ArticleStatus
    visibility: Visibility
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, article: Article) -> ArticleView:
        return cls(
            id=article.id,
            author_id=article.author_id,
            title=article.title,
            body=article.body,
            tags=article.tags,
            status=article.status,
            visibility=article.visibility,
            created_at=article.created_at,
            updated_at=article.updated_at,
        )


@dataclass(frozen=True, slots=True)
class ArticlePage:
    items: list[ArticleView]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class CreateArticleCommand:
    title: str
    body: str = ""
    tags: Sequence[str] = ()
    status: str = ArticleStatus.DRAFT.value
    visibility: str = Visibility.PRIVATE.value


@dataclass(frozen=True, slots=True)
class UpdateArticleCommand:
    """Only the fields that are not ``None`` change."""

    article_id: uuid.UUID
    title: str | None = None
    body: str | None = None
    tags: Sequence[str] | None = None
    status: str | None = None
    visibility: str | None = None


@dataclass(frozen=True, slots=True)
class ListArticlesQuery:
    author_id: uuid.UUID | None = None
    status: str | None = None
    tag: str | None = None
    #: Free text: whitespace-separated search words, all of which must be in the title or body.
    q: str | None = None
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True, slots=True)
class ParagraphView:
    id: uuid.UUID
    content: str
    created_at: datetime

    @classmethod
    def of(cls, paragraph: Paragraph) -> ParagraphView:
        return cls(id=paragraph.id, content=paragraph.content, created_at=paragraph.created_at)


@dataclass(frozen=True, slots=True)
class SearchParagraphsQuery:
    words: Sequence[str]
    operator: str = "and"
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class ParagraphSearchResult:
    paragraphs: list[ParagraphView]
    #: Every paragraph that matches, not only this page's.
    total_count: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class DictionaryEntry:
    word: str
    #: Occurrences over all paragraphs.
    count: int
    definitions: tuple[str, ...]
    phonetic: str | None


@dataclass(frozen=True, slots=True)
class DictionaryView:
    """The most frequent words with their definitions (cached whole: keep it plain data)."""

    words: tuple[DictionaryEntry, ...]
    #: False when no dictionary service is configured (offline), or when it could not be asked
    #: about some word: then those words have no definitions.
    definitions_available: bool
    exclude_stopwords: bool


@dataclass(frozen=True, slots=True)
class SearchEverythingQuery:
    q: str
    #: Scope names; empty means every scope there is.
    scopes: Sequence[str] = ()
    operator: str = "and"
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True, slots=True)
class SearchHitView:
    scope: str
    id: uuid.UUID
    title: str | None
    #: HTML-escaped text around the first match, the matches in ``<mark>``.
    snippet: str
    score: float
    created_at: datetime
    #: The conversation of a ``messages`` hit; ``None`` for the other scopes.
    conversation_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class SearchResults:
    items: list[SearchHitView]
    total: int
    limit: int
    offset: int
    #: The scopes searched, and how many hits each has.
    totals: dict[str, int]


@dataclass(frozen=True, slots=True)
class SummaryView:
    article_id: uuid.UUID
    summary: str
    model: str
    #: SHA-256 of the model and the article's title and body: the summary is cached under it.
    content_hash: str
    cached: bool
