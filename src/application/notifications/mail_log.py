"""The record of sent e-mail (``parley mail list|show``)."""

from __future__ import annotations

import uuid

from src.application.notifications.ports import NotificationsTransaction
from src.application.notifications.views import SentEmailView
from src.application.shared.ports import UnitOfWorkFactory


class ListSentEmails:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction]) -> None:
        self._uow = uow

    async def __call__(self, limit: int = 20) -> list[SentEmailView]:
        async with self._uow(read_only=True) as tx:
            return [SentEmailView.of(e) for e in await tx.emails.list_sent(limit=limit)]


class GetSentEmail:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction]) -> None:
        self._uow = uow

    async def __call__(self, email_id: uuid.UUID) -> SentEmailView | None:
        async with self._uow(read_only=True) as tx:
            found = await tx.emails.get_sent(email_id)
        return SentEmailView.of(found) if found is not None else None
