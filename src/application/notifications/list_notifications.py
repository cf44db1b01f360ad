"""ListNotifications: a page of the caller's notifications, newest first."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.notifications.inbox import DEFAULT_PAGE, MAX_PAGE
from src.application.notifications.ports import NotificationsTransaction
from src.application.notifications.views import NotificationPage, NotificationView
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.model import Principal
from src.domain.shared.errors import InvalidInput


class ListNotifications:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: ListNotificationsQuery) -> NotificationPage:
        if not 1 <= query.limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
        user_id = principal.user_id
        async with self._uow(read_only=True) as tx:
            # One more than asked: whether another page exists, without counting.
            rows = await tx.notifications.list_for_user(
                user_id, unread_only=query.unread_only, before=query.before, limit=query.limit + 1
            )
            unread = await tx.notifications.unread_count(user_id)
        page = rows[: query.limit]
        cursor = page[-1].id if len(rows) > query.limit else None
        return NotificationPage([NotificationView.of(n) for n in page], unread, cursor)


@dataclass(frozen=True, slots=True)
class ListNotificationsQuery:
    unread_only: bool = False
    before: uuid.UUID | None = None
    limit: int = DEFAULT_PAGE
