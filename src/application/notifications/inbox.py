"""The in-app inbox: list, mark read, delete, catch up after a reconnect, prune old read ones.

Someone else's notification does not exist as far as the caller can tell: ``notification_not_found``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from src.application.notifications.ports import NotificationsTransaction
from src.application.notifications.views import NotificationPage, NotificationView
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.model import Principal
from src.domain.notifications.errors import NotificationNotFound
from src.domain.shared.errors import InvalidInput
from src.domain.shared.jobs import DEFAULT_RECEIPT_RETENTION

MAX_PAGE = 100
DEFAULT_PAGE = 20


@dataclass(frozen=True, slots=True)
class ListNotificationsQuery:
    principal: Principal
    unread_only: bool = False
    before: uuid.UUID | None = None
    limit: int = DEFAULT_PAGE


class ListNotifications:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction]) -> None:
        self._uow = uow

    async def __call__(self, query: ListNotificationsQuery) -> NotificationPage:
        if not 1 <= query.limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
        user_id = query.principal.user_id
        async with self._uow(read_only=True) as tx:
            # One more than asked: whether another page exists, without counting.
            rows = await tx.notifications.list_for_user(
                user_id, unread_only=query.unread_only, before=query.before, limit=query.limit + 1
            )
            unread = await tx.notifications.unread_count(user_id)
        page = rows[: query.limit]
        cursor = page[-1].id if len(rows) > query.limit else None
        return NotificationPage([NotificationView.of(n) for n in page], unread, cursor)


class NotificationsAfter:
    """What a reconnecting stream missed: the caller's notifications newer than ``after``, oldest first."""

    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, after: uuid.UUID, limit: int = 500) -> list[NotificationView]:
        async with self._uow(read_only=True) as tx:
            rows = await tx.notifications.list_after(principal.user_id, after, limit=limit)
        return [NotificationView.of(n) for n in rows]


class MarkNotificationRead:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, notification_id: uuid.UUID) -> None:
        async with self._uow() as tx:
            if not await tx.notifications.mark_read(principal.user_id, notification_id, self._clock.now()):
                raise NotificationNotFound()


class MarkAllNotificationsRead:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal) -> int:
        async with self._uow() as tx:
            return await tx.notifications.mark_all_read(principal.user_id, self._clock.now())


class DeleteNotification:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, notification_id: uuid.UUID) -> None:
        async with self._uow() as tx:
            if not await tx.notifications.delete(principal.user_id, notification_id):
                raise NotificationNotFound()


#: How long a processed-event record is kept: as long as the job receipts (a redelivery comes sooner).
PROCESSED_EVENT_RETENTION = DEFAULT_RECEIPT_RETENTION


@dataclass(frozen=True, slots=True)
class PruneResult:
    notifications: int
    processed_events: int


class PruneNotifications:
    """Read notifications older than the retention (``NOTIFICATION_RETENTION_DAYS``) and old
    processed-event records, in batches (one short transaction each)."""

    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction], clock: Clock, retention: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self._retention = retention

    async def __call__(self, batch_size: int = 1000) -> PruneResult:
        now = self._clock.now()
        notifications = processed = 0
        while True:
            async with self._uow() as tx:
                deleted = await tx.notifications.delete_read_before(now - self._retention, batch_size=batch_size)
            notifications += deleted
            if deleted < batch_size:
                break
        while True:
            async with self._uow() as tx:
                deleted = await tx.processed_events.delete_before(
                    now - PROCESSED_EVENT_RETENTION, batch_size=batch_size
                )
            processed += deleted
            if deleted < batch_size:
                break
        return PruneResult(notifications, processed)
