"""Ports of the notifications context: the inbox, preferences, mail, live push, unsubscribe links."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from src.application.identity.ports import IdentityTransaction
from src.application.shared.ports import Transaction
from src.domain.notifications.email import OutgoingEmail, PendingEmail, SentEmail
from src.domain.notifications.model import Audience, Category, Notification, Preferences


class NotificationRepository(Protocol):
    async def add(self, notification: Notification) -> bool:
        """Store one; ``False`` when the user already has one with the same ``dedupe_key``."""
        ...

    async def add_many(self, notifications: list[Notification]) -> int:
        """Store many at once, skipping those whose ``(user_id, dedupe_key)`` exists; the number stored."""
        ...

    async def get(self, notification_id: uuid.UUID) -> Notification | None: ...

    async def list_for_user(
        self, user_id: uuid.UUID, *, unread_only: bool, before: uuid.UUID | None, limit: int
    ) -> list[Notification]:
        """Newest first, older than ``before`` when given."""
        ...

    async def list_after(self, user_id: uuid.UUID, after: uuid.UUID, *, limit: int) -> list[Notification]:
        """Oldest first, newer than ``after`` (a reconnecting stream's catch-up)."""
        ...

    async def unread_count(self, user_id: uuid.UUID) -> int: ...

    async def mark_read(self, user_id: uuid.UUID, notification_id: uuid.UUID, now: datetime) -> bool:
        """``False`` when the user has no such notification (read already counts as found)."""
        ...

    async def mark_all_read(self, user_id: uuid.UUID, now: datetime) -> int: ...

    async def delete(self, user_id: uuid.UUID, notification_id: uuid.UUID) -> bool: ...

    async def delete_read_before(self, cutoff: datetime, *, batch_size: int) -> int: ...

    async def recipients(self, audience: Audience, *, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        """Active users in ``audience``, by id, after ``after`` (keyset batches)."""
        ...


class PreferenceRepository(Protocol):
    async def get(self, user_id: uuid.UUID) -> Preferences: ...

    async def get_many(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, Preferences]:
        """Only the users who chose something; the others have the defaults."""
        ...

    async def save(self, user_id: uuid.UUID, preferences: Preferences, now: datetime) -> None: ...


class EmailRepository(Protocol):
    async def queue(self, email: PendingEmail) -> None: ...

    async def queue_many(self, emails: list[PendingEmail]) -> None: ...

    async def due_digests(
        self, now: datetime, *, window_start: datetime, limit: int
    ) -> list[tuple[uuid.UUID, Category]]:
        """(user, category) pairs with pending mail and no mail of that category since ``window_start``."""
        ...

    async def pending_for(self, user_id: uuid.UUID, category: Category) -> list[PendingEmail]: ...

    async def mark_sent(self, ids: list[uuid.UUID], sent_email_id: uuid.UUID | None, now: datetime) -> None:
        """Mark pending mail done: sent in ``sent_email_id``, or dropped (``None``)."""
        ...

    async def record_sent(self, email: SentEmail) -> None: ...

    async def list_sent(self, *, limit: int) -> list[SentEmail]: ...

    async def get_sent(self, email_id: uuid.UUID) -> SentEmail | None: ...


class NotificationsTransaction(Transaction, Protocol):
    """The notifications context's repositories, in one transaction."""

    @property
    def notifications(self) -> NotificationRepository: ...

    @property
    def notification_preferences(self) -> PreferenceRepository: ...

    @property
    def emails(self) -> EmailRepository: ...


class RecipientTransaction(NotificationsTransaction, IdentityTransaction, Protocol):
    """Notifications' repositories and the users they go to."""


class Mailer(Protocol):
    """Sends one rendered e-mail (console: logs it; smtp: an SMTP server). Raises when refused."""

    name: str

    async def send(self, email: OutgoingEmail) -> None: ...


@dataclass(frozen=True, slots=True)
class RenderedBody:
    text: str
    html: str


class EmailTemplates(Protocol):
    def render(self, template: str, context: Mapping[str, Any]) -> RenderedBody: ...


class UnsubscribeLinks(Protocol):
    def link(self, user_id: uuid.UUID, category: Category) -> str:
        """A signed one-click link that turns ``category``'s e-mail off for ``user_id``."""
        ...

    def verify(self, token: str) -> tuple[uuid.UUID, Category]:
        """The user and category a token names; raises ``InvalidUnsubscribeLink``."""
        ...


class LivePush(Protocol):
    """Delivers a notification to every open client of its user, on every instance (best effort)."""

    async def push(self, user_id: uuid.UUID, notification: Mapping[str, Any]) -> None: ...
