"""Notification events: an administrator's announcement."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from src.domain.shared.events import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnouncementPublished(DomainEvent):
    announcement_id: UUID
    author_id: UUID
    title: str
    body: str
    #: ``all``, ``role:<name>`` or ``tier:<name>`` (see ``Audience``).
    audience: str
