"""SendEmailDigests: the digest job: at most one mail per user and category per window, batching what
waited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from src.application.notifications.email import DeliverEmail, EmailComposer
from src.application.notifications.ports import RecipientTransaction
from src.application.shared.ports import Clock, UnitOfWorkFactory


class SendEmailDigests:
    """The digest: at most one mail per user and category per window, batching what waited.

    A (user, category) whose last mail went out less than ``window`` ago waits for a later run.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory[RecipientTransaction],
        clock: Clock,
        composer: EmailComposer,
        deliver: DeliverEmail,
        window: timedelta,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._composer = composer
        self._deliver = deliver
        self._window = window

    async def __call__(self) -> DigestRun:
        now = self._clock.now()
        async with self._uow(read_only=True) as tx:
            due = await tx.emails.due_digests(now, window_start=now - self._window, limit=MAX_DIGESTS_PER_RUN)
        sent = dropped = 0
        for user_id, category in due:
            async with self._uow(read_only=True) as tx:
                user = await tx.users.get(user_id)
                items = await tx.emails.pending_for(user_id, category)
                prefs = await tx.notification_preferences.get(user_id)
            if not items:
                continue
            ids = [i.id for i in items]
            if user is None or not user.is_active or not prefs.of(category).email:
                await self._drop(ids, now)  # closed account, or e-mail turned off since: nothing to send
                dropped += 1
                continue
            await self._deliver(user, category, self._composer.compose(user, category, items), pending=ids)
            sent += 1
        return DigestRun(sent=sent, dropped=dropped)

    async def _drop(self, ids: list[uuid.UUID], now: datetime) -> None:
        async with self._uow() as tx:
            await tx.emails.mark_sent(ids, None, now)


@dataclass(frozen=True, slots=True)
class DigestRun:
    sent: int
    dropped: int


MAX_DIGESTS_PER_RUN = 200
