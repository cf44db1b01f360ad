"""What the notification use cases return to the front doors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from src.domain.notifications.email import SentEmail
from src.domain.notifications.model import Category, Notification, Preferences


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: uuid.UUID
    category: str
    type: str
    title: str
    body: str
    data: dict[str, Any]
    read_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, n: Notification) -> NotificationView:
        return cls(n.id, n.category.value, n.type, n.title, n.body, dict(n.data), n.read_at, n.created_at)

    def to_json(self) -> dict[str, Any]:
        """The shape every front door shows (REST item, WebSocket frame, SSE event)."""
        return {
            "id": str(self.id),
            "category": self.category,
            "type": self.type,
            "title": self.title,
            "body": self.body,
            "data": self.data,
            "read_at": self.read_at.isoformat() if self.read_at else None,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class NotificationPage:
    items: list[NotificationView]
    unread_count: int
    #: Pass as ``before`` for the next (older) page; ``None`` on the last page.
    next_cursor: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class PreferencesView:
    categories: dict[str, dict[str, bool]]

    @classmethod
    def of(cls, preferences: Preferences) -> PreferencesView:
        return cls({c.value: {"in_app": preferences.of(c).in_app, "email": preferences.of(c).email} for c in Category})


@dataclass(frozen=True, slots=True)
class AnnouncementView:
    id: uuid.UUID
    title: str
    body: str
    audience: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SentEmailView:
    id: uuid.UUID
    to: str
    category: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    transport: str
    created_at: datetime

    @classmethod
    def of(cls, e: SentEmail) -> SentEmailView:
        return cls(e.id, e.to, e.category.value, e.subject, e.text, e.html, dict(e.headers), e.transport, e.created_at)
