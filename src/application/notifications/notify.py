"""Notify: tell one user something, the ways they chose.

In the app: a stored notification (once per ``dedupe_key``) pushed live to their open clients. By
e-mail: security mail goes out at once (it cannot be turned off); the other categories wait for the
next digest (``SendEmailDigests``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from src.application.notifications.email import DeliverEmail, EmailComposer
from src.application.notifications.ports import LivePush, RecipientTransaction
from src.application.notifications.views import NotificationView
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.notifications.email import PendingEmail
from src.domain.notifications.model import Category, Notification


@dataclass(frozen=True, slots=True)
class NotificationDraft:
    user_id: uuid.UUID
    category: Category
    type: str
    title: str
    body: str
    dedupe_key: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NotifyResult:
    stored: NotificationView | None
    emailed: bool
    queued_email: bool


class Notify:
    def __init__(
        self,
        uow: UnitOfWorkFactory[RecipientTransaction],
        clock: Clock,
        push: LivePush,
        composer: EmailComposer,
        deliver: DeliverEmail,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._push = push
        self._composer = composer
        self._deliver = deliver

    async def __call__(self, draft: NotificationDraft) -> NotifyResult:
        now = self._clock.now()
        stored: Notification | None = None
        queued = False
        async with self._uow() as tx:
            user = await tx.users.get(draft.user_id)
            if user is None or not user.is_active:
                return NotifyResult(None, emailed=False, queued_email=False)
            choice = (await tx.notification_preferences.get(draft.user_id)).of(draft.category)
            first = True
            if choice.in_app:
                candidate = Notification(
                    id=new_id(now),
                    user_id=draft.user_id,
                    category=draft.category,
                    type=draft.type,
                    title=draft.title,
                    body=draft.body,
                    data=dict(draft.data),
                    created_at=now,
                    dedupe_key=draft.dedupe_key,
                )
                first = await tx.notifications.add(candidate)
                stored = candidate if first else None
            if choice.email and first and draft.category is not Category.SECURITY:
                await tx.emails.queue(
                    PendingEmail(new_id(now), draft.user_id, draft.category, draft.title, draft.body, now)
                )
                queued = True
        view = NotificationView.of(stored) if stored is not None else None
        if view is not None:
            await self._push.push(draft.user_id, view.to_json())
        emailed = False
        if draft.category is Category.SECURITY:
            # At once, and again if this handler is retried: a security mail sent twice beats none.
            item = PendingEmail(new_id(now), draft.user_id, draft.category, draft.title, draft.body, now)
            await self._deliver(user, draft.category, self._composer.compose(user, draft.category, [item]))
            emailed = True
        return NotifyResult(view, emailed=emailed, queued_email=queued)
