"""Bodies of the notifications routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

from src.application.notifications.views import (
    AnnouncementView,
    NotificationPage,
    NotificationView,
    PreferencesView,
)


class NotificationResponse(msgspec.Struct):
    id: uuid.UUID
    category: Annotated[str, msgspec.Meta(description="security, budget, content, announcements or system")]
    type: Annotated[str, msgspec.Meta(description="What happened: `password_changed`, `budget_threshold`, ...")]
    title: str
    body: str
    data: dict[str, Any]
    read_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, v: NotificationView) -> NotificationResponse:
        return cls(v.id, v.category, v.type, v.title, v.body, v.data, v.read_at, v.created_at)


class NotificationPageResponse(msgspec.Struct):
    items: list[NotificationResponse]
    unread_count: int
    next_cursor: Annotated[uuid.UUID | None, msgspec.Meta(description="Pass as `before` for the next page")]

    @classmethod
    def of(cls, page: NotificationPage) -> NotificationPageResponse:
        return cls([NotificationResponse.of(i) for i in page.items], page.unread_count, page.next_cursor)


class ReadAllResponse(msgspec.Struct):
    marked_read: int


class ChannelsBody(msgspec.Struct):
    in_app: bool
    email: bool


class PreferencesResponse(msgspec.Struct):
    categories: dict[str, ChannelsBody]

    @classmethod
    def of(cls, view: PreferencesView) -> PreferencesResponse:
        return cls({name: ChannelsBody(**choice) for name, choice in view.categories.items()})


class PreferencesRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``{"categories": {"content": {"email": true}}}``: only what is given changes."""

    categories: dict[str, dict[str, Any]]


class UnsubscribeResponse(msgspec.Struct):
    category: str
    email: bool = False


class AnnouncementRequest(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(max_length=200)]
    body: Annotated[str, msgspec.Meta(max_length=5000)]
    audience: Annotated[
        str, msgspec.Meta(description="`all`, `role:<admin|moderator|creator|viewer>` or `tier:<free|pro>`")
    ] = "all"


class AnnouncementResponse(msgspec.Struct):
    id: uuid.UUID
    title: str
    body: str
    audience: str
    created_at: datetime

    @classmethod
    def of(cls, v: AnnouncementView) -> AnnouncementResponse:
        return cls(v.id, v.title, v.body, v.audience, v.created_at)
