"""Knowledge entities and value objects: articles, paragraphs, word frequencies and definitions.

Pure: no I/O, no clocks (times are passed in).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from src.domain.knowledge.errors import InvalidArticle, InvalidParagraph
from src.domain.knowledge.words import WORD_RUN, is_searchable_run

MAX_TITLE_LENGTH = 200
MAX_BODY_LENGTH = 200_000
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
#: Longer "paragraphs" from a source are garbage, not text.
MAX_PARAGRAPH_LENGTH = 20_000


class ArticleStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Visibility(enum.StrEnum):
    PRIVATE = "private"
    PUBLIC = "public"


def clean_title(raw: str) -> str:
    title = " ".join(raw.split())
    if not 1 <= len(title) <= MAX_TITLE_LENGTH:
        raise InvalidArticle(f"title must be 1-{MAX_TITLE_LENGTH} characters", extra={"field": "title"})
    return title


def clean_body(raw: str) -> str:
    body = raw.strip()
    if len(body) > MAX_BODY_LENGTH:
        raise InvalidArticle(f"body must be at most {MAX_BODY_LENGTH} characters", extra={"field": "body"})
    return body


def normalise_tag(raw: str) -> str:
    """Lower case, runs of whitespace as one space; letters, digits, spaces and ``-_.`` only."""
    tag = " ".join(raw.split()).lower()
    if not 1 <= len(tag) <= MAX_TAG_LENGTH or not all(c.isalnum() or c in " -_." for c in tag):
        raise InvalidArticle(
            f"tag {raw!r} must be 1-{MAX_TAG_LENGTH} letters, digits, spaces, '-', '_' or '.'",
            extra={"field": "tags", "tag": raw},
        )
    return tag


def normalise_tags(raw: Iterable[str]) -> tuple[str, ...]:
    """Normalised, without repeats, sorted; at most 20."""
    tags = sorted({normalise_tag(t) for t in raw})
    if len(tags) > MAX_TAGS:
        raise InvalidArticle(f"at most {MAX_TAGS} tags, got {len(tags)}", extra={"field": "tags"})
    return tuple(tags)


def parse_status(raw: str) -> ArticleStatus:
    try:
        return ArticleStatus(raw)
    except ValueError:
        raise InvalidArticle(f"status must be draft or published, not {raw!r}", extra={"field": "status"}) from None


def parse_visibility(raw: str) -> Visibility:
    try:
        return Visibility(raw)
    except ValueError:
        raise InvalidArticle(
            f"visibility must be private or public, not {raw!r}", extra={"field": "visibility"}
        ) from None


@dataclass(slots=True)
class Article:
    id: uuid.UUID
    author_id: uuid.UUID
    title: str
    body: str
    tags: tuple[str, ...]
    status: ArticleStatus
    visibility: Visibility
    created_at: datetime
    updated_at: datetime
    #: Set when a moderator hid it: then only its author and staff read it.
    hidden_at: datetime | None = None

    @classmethod
    def write(
        cls,
        *,
        id: uuid.UUID,
        author_id: uuid.UUID,
        title: str,
        body: str,
        tags: Iterable[str] = (),
        status: ArticleStatus = ArticleStatus.DRAFT,
        visibility: Visibility = Visibility.PRIVATE,
        now: datetime,
    ) -> Article:
        return cls(
            id=id,
            author_id=author_id,
            title=clean_title(title),
            body=clean_body(body),
            tags=normalise_tags(tags),
            status=status,
            visibility=visibility,
            created_at=now,
            updated_at=now,
        )

    @property
    def is_public(self) -> bool:
        """Published and public: every signed-in user may read it."""
        return self.status is ArticleStatus.PUBLISHED and self.visibility is Visibility.PUBLIC

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None

    def is_readable_by(self, user_id: uuid.UUID, *, staff: bool = False) -> bool:
        """The author always; others a public article unless a moderator hid it (``staff`` still reads it)."""
        return self.author_id == user_id or (self.is_public and (staff or not self.is_hidden))

    def hide(self, *, now: datetime) -> None:
        if self.hidden_at is None:
            self.hidden_at = now

    def edit(
        self,
        *,
        now: datetime,
        title: str | None = None,
        body: str | None = None,
        tags: Iterable[str] | None = None,
        status: ArticleStatus | None = None,
        visibility: Visibility | None = None,
    ) -> None:
        """Change what is given (``None`` leaves a field as it is)."""
        if title is not None:
            self.title = clean_title(title)
        if body is not None:
            self.body = clean_body(body)
        if tags is not None:
            self.tags = normalise_tags(tags)
        if status is not None:
            self.status = status
        if visibility is not None:
            self.visibility = visibility
        self.updated_at = now


def article_from_markdown(name: str, text: str) -> tuple[str, str]:
    """(title, body) of a Markdown file: its first line when that is a ``# `` heading, otherwise the
    file name (without its extension, ``-`` and ``_`` read as spaces) and the whole text."""
    lines = text.replace("\r\n", "\n").split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("# "):
        title = lines[first].lstrip()[2:].strip().rstrip("#").strip()
        if title:
            return title, "\n".join(lines[first + 1 :]).strip()
    stem = name.rsplit("/", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return " ".join(stem.replace("-", " ").replace("_", " ").split()) or name, text.strip()


@dataclass(frozen=True, slots=True)
class Paragraph:
    id: uuid.UUID
    content: str
    created_at: datetime


def clean_paragraph(raw: str) -> str:
    """A paragraph as stored: trimmed; refused when empty, too long, wordless or holding control
    characters (what a source that answers garbage sends)."""
    text = raw.strip()
    if not text:
        raise InvalidParagraph("the paragraph is empty")
    if len(text) > MAX_PARAGRAPH_LENGTH:
        raise InvalidParagraph(f"the paragraph is longer than {MAX_PARAGRAPH_LENGTH} characters")
    if any((ord(c) < 32 and c not in "\n\r\t") or c == "\x7f" for c in text):
        raise InvalidParagraph("the paragraph holds control characters")
    if not any(is_searchable_run(run) for run in WORD_RUN.findall(text)):
        raise InvalidParagraph("the paragraph has no words")
    return text


@dataclass(frozen=True, slots=True)
class WordFrequency:
    word: str
    count: int


@dataclass(frozen=True, slots=True)
class WordDefinition:
    """What the dictionary knows of a word; ``found`` is False for a word it does not know."""

    word: str
    definitions: tuple[str, ...] = ()
    phonetic: str | None = None
    found: bool = True
