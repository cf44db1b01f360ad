"""DeleteNotification: the caller deletes one of their notifications."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.notifications.ports import NotificationsTransaction
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.model import Principal
from src.domain.notifications.errors import NotificationNotFound


@dataclass(frozen=True, slots=True)
class DeleteNotificationCommand:
    notification_id: uuid.UUID


class DeleteNotification:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, command: DeleteNotificationCommand) -> None:
        async with self._uow() as tx:
            if not await tx.notifications.delete(principal.user_id, command.notification_id):
                raise NotificationNotFound()
