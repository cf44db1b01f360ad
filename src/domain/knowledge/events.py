"""Knowledge events: long-running work a user may want to hear has finished."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from src.domain.shared.events import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleSummarized(DomainEvent):
    user_id: UUID
    article_id: UUID
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ParagraphsFetched(DomainEvent):
    user_id: UUID
    paragraph_ids: tuple[str, ...]
