"""In-memory fakes of the notifications ports (and the processed-events record), same Protocols as
the adapters."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from src.domain.identity.model import User
from src.domain.notifications.email import OutgoingEmail, PendingEmail, SentEmail
from src.domain.notifications.model import Audience, Category, Notification, Preferences
from tests.fakes.identity import IdentityTables


@dataclass(slots=True)
class NotificationTables:
    processed: dict[tuple[uuid.UUID, str], datetime] = field(default_factory=dict)
    notifications: dict[uuid.UUID, Notification] = field(default_factory=dict)
    preferences: dict[uuid.UUID, Preferences] = field(default_factory=dict)
    pending: dict[uuid.UUID, tuple[PendingEmail, datetime | None]] = field(default_factory=dict)
    sent: dict[uuid.UUID, SentEmail] = field(default_factory=dict)

    def copy(self) -> NotificationTables:
        return NotificationTables(
            processed=dict(self.processed),
            notifications={k: dataclasses.replace(v) for k, v in self.notifications.items()},
            preferences=dict(self.preferences),
            pending=dict(self.pending),
            sent=dict(self.sent),
        )


class InMemoryProcessedEventRepository:
    def __init__(self, tables: NotificationTables) -> None:
        self._t = tables

    async def exists(self, event_id: uuid.UUID, handler: str) -> bool:
        return (event_id, handler) in self._t.processed

    async def add(self, event_id: uuid.UUID, handler: str, now: datetime) -> bool:
        if (event_id, handler) in self._t.processed:
            return False
        self._t.processed[(event_id, handler)] = now
        return True

    async def delete_before(self, cutoff: datetime, *, batch_size: int) -> int:
        old = [k for k, at in self._t.processed.items() if at < cutoff][:batch_size]
        for key in old:
            del self._t.processed[key]
        return len(old)


class InMemoryNotificationRepository:
    def __init__(self, tables: NotificationTables, users: Mapping[uuid.UUID, User]) -> None:
        self._t = tables
        self._users = users

    async def add(self, notification: Notification) -> bool:
        return await self.add_many([notification]) == 1

    async def add_many(self, notifications: list[Notification]) -> int:
        stored = 0
        for n in notifications:
            taken = n.dedupe_key is not None and any(
                o.user_id == n.user_id and o.dedupe_key == n.dedupe_key for o in self._t.notifications.values()
            )
            if not taken:
                self._t.notifications[n.id] = dataclasses.replace(n)
                stored += 1
        return stored

    async def get(self, notification_id: uuid.UUID) -> Notification | None:
        found = self._t.notifications.get(notification_id)
        return dataclasses.replace(found) if found else None

    def _mine(self, user_id: uuid.UUID) -> list[Notification]:
        return sorted((n for n in self._t.notifications.values() if n.user_id == user_id), key=lambda n: n.id)

    async def list_for_user(
        self, user_id: uuid.UUID, *, unread_only: bool, before: uuid.UUID | None, limit: int
    ) -> list[Notification]:
        rows = [
            n
            for n in reversed(self._mine(user_id))
            if (not unread_only or n.read_at is None) and (before is None or n.id < before)
        ]
        return [dataclasses.replace(n) for n in rows[:limit]]

    async def list_after(self, user_id: uuid.UUID, after: uuid.UUID, *, limit: int) -> list[Notification]:
        return [dataclasses.replace(n) for n in self._mine(user_id) if n.id > after][:limit]

    async def unread_count(self, user_id: uuid.UUID) -> int:
        return sum(1 for n in self._mine(user_id) if n.read_at is None)

    async def mark_read(self, user_id: uuid.UUID, notification_id: uuid.UUID, now: datetime) -> bool:
        found = self._t.notifications.get(notification_id)
        if found is None or found.user_id != user_id:
            return False
        if found.read_at is None:
            found.read_at = now
        return True

    async def mark_all_read(self, user_id: uuid.UUID, now: datetime) -> int:
        unread = [n for n in self._mine(user_id) if n.read_at is None]
        for n in unread:
            n.read_at = now
        return len(unread)

    async def delete(self, user_id: uuid.UUID, notification_id: uuid.UUID) -> bool:
        found = self._t.notifications.get(notification_id)
        if found is None or found.user_id != user_id:
            return False
        del self._t.notifications[notification_id]
        return True

    async def delete_read_before(self, cutoff: datetime, *, batch_size: int) -> int:
        old = [n.id for n in self._t.notifications.values() if n.read_at is not None and n.created_at < cutoff]
        for key in old[:batch_size]:
            del self._t.notifications[key]
        return len(old[:batch_size])

    async def recipients(self, audience: Audience, *, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        def fits(u: User) -> bool:
            if not u.is_active:
                return False
            if audience.kind == "role":
                return u.role.value == audience.value
            if audience.kind == "tier":
                return u.tier.value == audience.value
            return True

        ids = sorted(u.id for u in self._users.values() if fits(u) and (after is None or u.id > after))
        return ids[:limit]


class InMemoryPreferenceRepository:
    def __init__(self, tables: NotificationTables) -> None:
        self._t = tables

    async def get(self, user_id: uuid.UUID) -> Preferences:
        return self._t.preferences.get(user_id, Preferences())

    async def get_many(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, Preferences]:
        return {u: self._t.preferences[u] for u in user_ids if u in self._t.preferences}

    async def save(self, user_id: uuid.UUID, preferences: Preferences, now: datetime) -> None:
        self._t.preferences[user_id] = Preferences({c: preferences.of(c) for c in Category})


class InMemoryEmailRepository:
    def __init__(self, tables: NotificationTables) -> None:
        self._t = tables

    async def queue(self, email: PendingEmail) -> None:
        self._t.pending[email.id] = (email, None)

    async def queue_many(self, emails: list[PendingEmail]) -> None:
        for e in emails:
            await self.queue(e)

    async def due_digests(
        self, now: datetime, *, window_start: datetime, limit: int
    ) -> list[tuple[uuid.UUID, Category]]:
        pairs: list[tuple[uuid.UUID, Category]] = []
        for email, sent_at in sorted(self._t.pending.values(), key=lambda p: p[0].id):
            pair = (email.user_id, email.category)
            recent = any(
                s.user_id == email.user_id and s.category == email.category and s.created_at >= window_start
                for s in self._t.sent.values()
            )
            if sent_at is None and email.created_at <= now and not recent and pair not in pairs:
                pairs.append(pair)
        return pairs[:limit]

    async def pending_for(self, user_id: uuid.UUID, category: Category) -> list[PendingEmail]:
        return sorted(
            (
                e
                for e, sent in self._t.pending.values()
                if sent is None and e.user_id == user_id and e.category == category
            ),
            key=lambda e: e.id,
        )

    async def mark_sent(self, ids: list[uuid.UUID], sent_email_id: uuid.UUID | None, now: datetime) -> None:
        for key in ids:
            email, _ = self._t.pending[key]
            self._t.pending[key] = (email, now)

    async def record_sent(self, email: SentEmail) -> None:
        self._t.sent[email.id] = email

    async def list_sent(self, *, limit: int) -> list[SentEmail]:
        return sorted(self._t.sent.values(), key=lambda e: e.id, reverse=True)[:limit]

    async def get_sent(self, email_id: uuid.UUID) -> SentEmail | None:
        return self._t.sent.get(email_id)


class RecordingMailer:
    """A ``Mailer`` that keeps what it is given, refusing the first ``fail_times`` sends."""

    name = "recording"

    def __init__(self, *, fail_times: int = 0) -> None:
        self.fail_times = fail_times
        self.sent: list[OutgoingEmail] = []
        self.refused = 0

    async def send(self, email: OutgoingEmail) -> None:
        if self.refused < self.fail_times:
            self.refused += 1
            raise ConnectionRefusedError("the mail server refused")
        self.sent.append(email)


class RecordingLivePush:
    def __init__(self) -> None:
        self.pushed: list[tuple[uuid.UUID, dict[str, Any]]] = []

    async def push(self, user_id: uuid.UUID, notification: Mapping[str, Any]) -> None:
        self.pushed.append((user_id, dict(notification)))


class NotificationRepositories:
    """The notifications context's repositories in a fake unit of work (``tests.fakes.shared.InMemoryUnitOfWork``);
    the inbox reads the users (an announcement's audience) as the SQL adapter joins them."""

    notifications_tables: NotificationTables
    identity_tables: IdentityTables

    @property
    def processed_events(self) -> InMemoryProcessedEventRepository:
        return InMemoryProcessedEventRepository(self.notifications_tables)

    @property
    def notifications(self) -> InMemoryNotificationRepository:
        return InMemoryNotificationRepository(self.notifications_tables, self.identity_tables.users)

    @property
    def notification_preferences(self) -> InMemoryPreferenceRepository:
        return InMemoryPreferenceRepository(self.notifications_tables)

    @property
    def emails(self) -> InMemoryEmailRepository:
        return InMemoryEmailRepository(self.notifications_tables)
