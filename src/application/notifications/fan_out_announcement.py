"""FanOutAnnouncement: the handler of ``AnnouncementPublished``, one notification per recipient in
batches claimed by receipts (see ``announcements.py``)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

from src.application.notifications.announcements import FAN_OUT_RECEIPT, AnnouncementTransaction
from src.application.notifications.ports import LivePush
from src.application.notifications.views import NotificationView
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.notifications.email import PendingEmail
from src.domain.notifications.events import AnnouncementPublished
from src.domain.notifications.model import Audience, Category, Notification, Preferences
from src.domain.shared.jobs import JobReceipt


class FanOutAnnouncement:
    def __init__(
        self, uow: UnitOfWorkFactory[AnnouncementTransaction], clock: Clock, push: LivePush, *, batch_size: int = 1000
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._push = push
        self._batch_size = batch_size

    async def __call__(self, event: AnnouncementPublished) -> FanOutResult:
        audience = Audience.from_published(event.audience)
        dedupe_key = f"announcement:{event.announcement_id}"
        after: uuid.UUID | None = None
        recipients = stored = batches = 0
        while True:
            async with self._uow() as tx:
                users = await tx.notifications.recipients(audience, after=after, limit=self._batch_size)
                if not users:
                    break
                batch_key = f"{event.announcement_id}:{after or 'start'}"
                receipt = JobReceipt.issue(
                    FAN_OUT_RECEIPT, batch_key, now=self._clock.now(), retention=timedelta(days=7)
                )
                fresh = await tx.job_receipts.add(receipt)
                views: list[tuple[uuid.UUID, NotificationView]] = []
                if fresh:
                    chosen = await tx.notification_preferences.get_many(users)
                    now = self._clock.now()
                    rows: list[Notification] = []
                    mails: list[PendingEmail] = []
                    for user_id in users:
                        choice = chosen.get(user_id, Preferences()).of(Category.ANNOUNCEMENTS)
                        if choice.in_app:
                            rows.append(
                                Notification(
                                    id=new_id(now),
                                    user_id=user_id,
                                    category=Category.ANNOUNCEMENTS,
                                    type="announcement",
                                    title=event.title,
                                    body=event.body,
                                    data={"announcement_id": str(event.announcement_id)},
                                    created_at=now,
                                    dedupe_key=dedupe_key,
                                )
                            )
                        if choice.email:
                            mails.append(
                                PendingEmail(new_id(now), user_id, Category.ANNOUNCEMENTS, event.title, event.body, now)
                            )
                    stored += await tx.notifications.add_many(rows)
                    await tx.emails.queue_many(mails)
                    views = [(n.user_id, NotificationView.of(n)) for n in rows]
            after = users[-1]
            recipients += len(users)
            batches += 1
            # All at once: the pub/sub adapter sends what is published together in one round trip.
            await asyncio.gather(*(self._push.push(user_id, view.to_json()) for user_id, view in views))
            if len(users) < self._batch_size:
                break
        return FanOutResult(recipients, stored, batches)


@dataclass(frozen=True, slots=True)
class FanOutResult:
    recipients: int
    stored: int
    batches: int
