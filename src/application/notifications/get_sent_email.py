"""GetSentEmail: one sent email of the mail log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.notifications.ports import NotificationsTransaction
from src.application.notifications.views import SentEmailView
from src.application.shared.ports import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class GetSentEmailQuery:
    email_id: uuid.UUID


class GetSentEmail:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction]) -> None:
        self._uow = uow

    async def __call__(self, query: GetSentEmailQuery) -> SentEmailView | None:
        async with self._uow(read_only=True) as tx:
            found = await tx.emails.get_sent(query.email_id)
        return SentEmailView.of(found) if found is not None else None
