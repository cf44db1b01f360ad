"""ListSentEmails: the latest emails sent (the operator's mail log)."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.notifications.ports import NotificationsTransaction
from src.application.notifications.views import SentEmailView
from src.application.shared.ports import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class ListSentEmailsQuery:
    limit: int = 20


class ListSentEmails:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction]) -> None:
        self._uow = uow

    async def __call__(self, query: ListSentEmailsQuery) -> list[SentEmailView]:
        async with self._uow(read_only=True) as tx:
            return [SentEmailView.of(e) for e in await tx.emails.list_sent(limit=query.limit)]
