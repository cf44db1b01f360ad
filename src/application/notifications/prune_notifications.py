"""PruneNotifications: the job removing read notifications past ``NOTIFICATION_RETENTION_DAYS`` and
old processed-event records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from src.application.notifications.ports import NotificationsTransaction
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.shared.jobs import DEFAULT_RECEIPT_RETENTION


@dataclass(frozen=True, slots=True)
class PruneNotificationsCommand:
    batch_size: int = 1000


class PruneNotifications:
    """Read notifications older than the retention (``NOTIFICATION_RETENTION_DAYS``) and old
    processed-event records, in batches (one short transaction each)."""

    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction], clock: Clock, retention: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self._retention = retention

    async def __call__(self, command: PruneNotificationsCommand) -> PruneResult:
        now = self._clock.now()
        notifications = processed = 0
        while True:
            async with self._uow() as tx:
                deleted = await tx.notifications.delete_read_before(
                    now - self._retention, batch_size=command.batch_size
                )
            notifications += deleted
            if deleted < command.batch_size:
                break
        while True:
            async with self._uow() as tx:
                deleted = await tx.processed_events.delete_before(
                    now - PROCESSED_EVENT_RETENTION, batch_size=command.batch_size
                )
            processed += deleted
            if deleted < command.batch_size:
                break
        return PruneResult(notifications, processed)


@dataclass(frozen=True, slots=True)
class PruneResult:
    notifications: int
    processed_events: int


#: How long a processed-event record is kept: as long as the job receipts (a redelivery comes sooner).
PROCESSED_EVENT_RETENTION = DEFAULT_RECEIPT_RETENTION
