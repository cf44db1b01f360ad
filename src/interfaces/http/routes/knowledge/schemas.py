"""Request and response bodies of the knowledge routes, with their OpenAPI descriptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from src.application.knowledge.views import (
    ArticlePage,
    ArticleView,
    DictionaryView,
    ParagraphSearchResult,
    ParagraphView,
    SearchResults,
    SummaryView,
)
from src.domain.knowledge.model import MAX_BODY_LENGTH, MAX_TAGS, MAX_TITLE_LENGTH

Status = Annotated[Literal["draft", "published"], msgspec.Meta(description="`draft` (the default) or `published`.")]
VisibilityText = Annotated[
    Literal["private", "public"],
    msgspec.Meta(description="`private` (the default) or `public`: public published articles are read by everyone."),
]
Title = Annotated[str, msgspec.Meta(max_length=MAX_TITLE_LENGTH * 2, description="1-200 characters.")]
Body = Annotated[str, msgspec.Meta(max_length=MAX_BODY_LENGTH * 2, description="Markdown, up to 200,000 characters.")]
Tags = Annotated[
    list[Annotated[str, msgspec.Meta(max_length=200)]],
    msgspec.Meta(
        max_length=MAX_TAGS * 5,
        description="Up to 20 tags of letters, digits, spaces, `-`, `_` or `.`; stored lower-case, sorted.",
    ),
]


class CreateArticleRequest(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    body: Body = ""
    tags: Tags = msgspec.field(default_factory=list)
    status: Status = "draft"
    visibility: VisibilityText = "private"


class UpdateArticleRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields sent (and not null) change."""

    title: Title | None = None
    body: Body | None = None
    tags: Tags | None = None
    status: Status | None = None
    visibility: VisibilityText | None = None


class ArticleResponse(msgspec.Struct):
    id: uuid.UUID
    author_id: uuid.UUID
    title: str
    body: str
    tags: list[str]
    status: str
    visibility: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: ArticleView) -> ArticleResponse:
        return cls(
            id=view.id,
            author_id=view.author_id,
            title=view.title,
            body=view.body,
            tags=list(view.tags),
            status=view.status.value,
            visibility=view.visibility.value,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class ArticleList(msgspec.Struct):
    items: list[ArticleResponse]
    total: Annotated[int, msgspec.Meta(description="Articles matching the filters, on every page.")]
    limit: int
    offset: int

    @classmethod
    def of(cls, page: ArticlePage) -> ArticleList:
        return cls([ArticleResponse.of(v) for v in page.items], page.total, page.limit, page.offset)


class SummaryResponse(msgspec.Struct):
    article_id: uuid.UUID
    summary: str
    model: Annotated[str, msgspec.Meta(description="The model that wrote the summary (`provider/model`).")]
    content_hash: Annotated[
        str, msgspec.Meta(description="SHA-256 of the model, title and body: the summary's cache key.")
    ]
    cached: Annotated[bool, msgspec.Meta(description="True when the summary came from the cache.")]

    @classmethod
    def of(cls, view: SummaryView) -> SummaryResponse:
        return cls(view.article_id, view.summary, view.model, view.content_hash, view.cached)


class ParagraphResponse(msgspec.Struct):
    id: uuid.UUID
    content: str
    created_at: datetime

    @classmethod
    def of(cls, view: ParagraphView) -> ParagraphResponse:
        return cls(view.id, view.content, view.created_at)


SearchWord = Annotated[str, msgspec.Meta(max_length=200)]


class ParagraphSearchRequest(msgspec.Struct, forbid_unknown_fields=True):
    words: Annotated[
        list[SearchWord],
        msgspec.Meta(
            max_length=100,
            description="1-20 words of 1-50 letters, digits or apostrophes; matched as whole words, in any case.",
        ),
    ]
    operator: Annotated[str, msgspec.Meta(description="`and`: every word; `or`: at least one.")]
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000, description="Page size.")] = 100
    offset: Annotated[int, msgspec.Meta(ge=0, description="Matches to skip (oldest first).")] = 0


class ParagraphSearchResponse(msgspec.Struct):
    paragraphs: list[ParagraphResponse]
    total_count: Annotated[int, msgspec.Meta(description="Every paragraph that matches, not only this page's.")]
    limit: int
    offset: int

    @classmethod
    def of(cls, result: ParagraphSearchResult) -> ParagraphSearchResponse:
        return cls(
            [ParagraphResponse.of(p) for p in result.paragraphs], result.total_count, result.limit, result.offset
        )


class DictionaryWord(msgspec.Struct):
    word: str
    count: Annotated[int, msgspec.Meta(description="Occurrences over all paragraphs.")]
    definitions: list[str]
    phonetic: str | None


class DictionaryResponse(msgspec.Struct):
    words: list[DictionaryWord]
    definitions_available: Annotated[
        bool,
        msgspec.Meta(
            description="False when no dictionary service is configured, or it could not be asked about some word "
            "(those words have no definitions)."
        ),
    ]
    exclude_stopwords: bool

    @classmethod
    def of(cls, view: DictionaryView) -> DictionaryResponse:
        return cls(
            [DictionaryWord(e.word, e.count, list(e.definitions), e.phonetic) for e in view.words],
            view.definitions_available,
            view.exclude_stopwords,
        )


class SearchHit(msgspec.Struct):
    scope: Annotated[str, msgspec.Meta(description="`articles`, `paragraphs` or `messages`.")]
    id: uuid.UUID
    title: str | None
    snippet: Annotated[
        str, msgspec.Meta(description="HTML-escaped text around the first match, matches in `<mark>...</mark>`.")
    ]
    score: Annotated[float, msgspec.Meta(description="Relevance; higher is better (compare within one answer).")]
    created_at: datetime
    conversation_id: Annotated[
        uuid.UUID | None, msgspec.Meta(description="The conversation of a `messages` hit; null for the others.")
    ] = None


class SearchResponse(msgspec.Struct):
    items: list[SearchHit]
    total: Annotated[int, msgspec.Meta(description="Hits in every scope searched, on every page.")]
    limit: int
    offset: int
    totals: Annotated[dict[str, int], msgspec.Meta(description="Hits per scope searched.")]

    @classmethod
    def of(cls, results: SearchResults) -> SearchResponse:
        return cls(
            [
                SearchHit(h.scope, h.id, h.title, h.snippet, h.score, h.created_at, h.conversation_id)
                for h in results.items
            ],
            results.total,
            results.limit,
            results.offset,
            results.totals,
        )
