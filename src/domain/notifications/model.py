"""Notifications: what a user is told, in which category, and how they want to hear it."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from src.domain.identity.model import LEGACY_MEMBER_ROLE, Role, Tier
from src.domain.notifications.errors import InvalidAnnouncement, InvalidPreferences

MAX_TITLE_LENGTH = 200
MAX_BODY_LENGTH = 5_000
DEFAULT_RETENTION = timedelta(days=90)


class Category(enum.StrEnum):
    SECURITY = "security"
    BUDGET = "budget"
    CONTENT = "content"
    ANNOUNCEMENTS = "announcements"
    SYSTEM = "system"


class Channel(enum.StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"


@dataclass(slots=True)
class Notification:
    id: UUID
    user_id: UUID
    category: Category
    type: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None = None
    #: Makes a notification idempotent: one per user and key (an event id and handler, an announcement).
    dedupe_key: str | None = None

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


@dataclass(frozen=True, slots=True)
class ChannelChoice:
    in_app: bool
    email: bool


#: What a user gets before they choose: security and budget by both ways, the rest in the app only,
#: announcements by mail too (they are rare and an admin chose to send them).
DEFAULT_CHOICES: Mapping[Category, ChannelChoice] = {
    Category.SECURITY: ChannelChoice(in_app=True, email=True),
    Category.BUDGET: ChannelChoice(in_app=True, email=True),
    Category.CONTENT: ChannelChoice(in_app=True, email=False),
    Category.ANNOUNCEMENTS: ChannelChoice(in_app=True, email=True),
    Category.SYSTEM: ChannelChoice(in_app=True, email=False),
}


@dataclass(frozen=True, slots=True)
class Preferences:
    """A user's choices, category by category (the defaults where they chose nothing)."""

    choices: Mapping[Category, ChannelChoice] = field(default_factory=lambda: dict(DEFAULT_CHOICES))

    def of(self, category: Category) -> ChannelChoice:
        choice = self.choices.get(category, DEFAULT_CHOICES[category])
        if category is Category.SECURITY:
            # Security mail cannot be turned off: a stolen session must reach the owner.
            return ChannelChoice(in_app=choice.in_app, email=True)
        return choice

    def updated(self, changes: Mapping[str, Mapping[str, Any]]) -> Preferences:
        """These preferences with ``changes`` (``{category: {in_app?, email?}}``) applied and checked."""
        merged = {c: self.of(c) for c in Category}
        for name, channels in changes.items():
            category = parse_category(name)
            if not isinstance(channels, Mapping):
                raise InvalidPreferences(f"{name}: expected an object like {{'in_app': true, 'email': false}}")
            current = merged[category]
            values = {"in_app": current.in_app, "email": current.email}
            for channel, value in channels.items():
                if channel not in values:
                    raise InvalidPreferences(f"{name}.{channel}: unknown channel (in_app or email)")
                if not isinstance(value, bool):
                    raise InvalidPreferences(f"{name}.{channel}: expected true or false")
                values[channel] = value
            if category is Category.SECURITY and not values["email"]:
                raise InvalidPreferences("security e-mail cannot be turned off")
            merged[category] = ChannelChoice(**values)
        return Preferences(merged)


def parse_category(name: str) -> Category:
    try:
        return Category(name)
    except ValueError:
        known = ", ".join(c.value for c in Category)
        raise InvalidPreferences(f"unknown category {name!r} (known: {known})") from None


@dataclass(frozen=True, slots=True)
class Audience:
    """Who an announcement goes to: everyone, one role, or one tier."""

    kind: str  # "all", "role" or "tier"
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Audience:
        text = text.strip()
        if text == "all":
            return cls("all")
        kind, _, value = text.partition(":")
        choices = {"role": [r.value for r in Role], "tier": [t.value for t in Tier]}
        if kind not in choices or value not in choices[kind]:
            raise InvalidAnnouncement(
                f"audience must be all, role:<{'|'.join(choices['role'])}> or tier:<{'|'.join(choices['tier'])}>"
            )
        return cls(kind, value)

    @classmethod
    def from_published(cls, text: str) -> Audience:
        """The audience of an ``AnnouncementPublished`` event, which may have been recorded before roles were
        split: ``role:member`` then, and the migration made every member a creator."""
        kind, _, value = text.strip().partition(":")
        if kind == "role" and value == LEGACY_MEMBER_ROLE:
            return cls("role", Role.CREATOR.value)
        return cls.parse(text)

    def __str__(self) -> str:
        return "all" if self.kind == "all" else f"{self.kind}:{self.value}"


def check_announcement(title: str, body: str) -> tuple[str, str]:
    title, body = " ".join(title.split()), body.strip()
    if not 1 <= len(title) <= MAX_TITLE_LENGTH:
        raise InvalidAnnouncement(f"title must be 1-{MAX_TITLE_LENGTH} characters")
    if not 1 <= len(body) <= MAX_BODY_LENGTH:
        raise InvalidAnnouncement(f"body must be 1-{MAX_BODY_LENGTH} characters")
    return title, body


def is_prunable(notification: Notification, now: datetime, retention: timedelta = DEFAULT_RETENTION) -> bool:
    """Read notifications are kept ``retention``; unread ones stay until read or deleted."""
    return notification.read_at is not None and notification.created_at < now - retention
