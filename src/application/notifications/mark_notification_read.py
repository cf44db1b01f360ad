"""MarkNotificationRead: one of the caller's notifications is read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.notifications.ports import NotificationsTransaction
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.model import Principal
from src.domain.notifications.errors import NotificationNotFound


@dataclass(frozen=True, slots=True)
class MarkNotificationReadCommand:
    notification_id: uuid.UUID


class MarkNotificationRead:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: MarkNotificationReadCommand) -> None:
        async with self._uow() as tx:
            if not await tx.notifications.mark_read(principal.user_id, command.notification_id, self._clock.now()):
                raise NotificationNotFound()
