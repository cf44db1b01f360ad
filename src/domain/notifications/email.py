"""E-mail as the notifications context sees it: mail waiting for a digest, and mail that went out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from src.domain.notifications.model import Category

DEFAULT_DIGEST_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class PendingEmail:
    """One notification waiting to be mailed in its category's next digest."""

    id: UUID
    user_id: UUID
    category: Category
    title: str
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """A rendered message, ready for a ``Mailer``."""

    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SentEmail:
    id: UUID
    user_id: UUID | None
    category: Category
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    transport: str
    created_at: datetime


def digest_subject(category: Category, items: list[PendingEmail]) -> str:
    if len(items) == 1:
        return items[0].title
    return f"{len(items)} new {category.value} notifications"
