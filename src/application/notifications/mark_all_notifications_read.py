"""MarkAllNotificationsRead: all the caller's notifications are read."""

from __future__ import annotations

from src.application.notifications.ports import NotificationsTransaction
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.model import Principal


class MarkAllNotificationsRead:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal) -> int:
        async with self._uow() as tx:
            return await tx.notifications.mark_all_read(principal.user_id, self._clock.now())
