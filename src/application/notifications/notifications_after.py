"""NotificationsAfter: the caller's notifications after one they have (a reconnecting client catches up)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.notifications.ports import NotificationsTransaction
from src.application.notifications.views import NotificationView
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.model import Principal


@dataclass(frozen=True, slots=True)
class NotificationsAfterQuery:
    after: uuid.UUID
    limit: int = 500


class NotificationsAfter:
    """What a reconnecting stream missed: the caller's notifications newer than ``after``, oldest first."""

    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: NotificationsAfterQuery) -> list[NotificationView]:
        async with self._uow(read_only=True) as tx:
            rows = await tx.notifications.list_after(principal.user_id, query.after, limit=query.limit)
        return [NotificationView.of(n) for n in rows]
