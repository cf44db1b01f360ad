"""Composing and sending notification e-mail: one rendered message, sent and recorded.

Every mail carries plain-text and HTML bodies from the repository's templates. Mail of a category
the user can turn off carries ``List-Unsubscribe`` with a signed one-click link (RFC 8058) and
``List-Unsubscribe-Post``; security mail cannot be turned off, so it carries neither.
"""

from __future__ import annotations

import uuid

from src.application.notifications.ports import EmailTemplates, Mailer, RecipientTransaction, UnsubscribeLinks
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.model import User
from src.domain.notifications.email import OutgoingEmail, PendingEmail, SentEmail, digest_subject
from src.domain.notifications.model import Category


class EmailComposer:
    def __init__(self, templates: EmailTemplates, unsubscribe: UnsubscribeLinks, *, app_name: str = "Parley") -> None:
        self._templates = templates
        self._unsubscribe = unsubscribe
        self._app_name = app_name

    def compose(self, user: User, category: Category, items: list[PendingEmail]) -> OutgoingEmail:
        if not items:
            raise ValueError("an e-mail needs at least one notification")
        headers: dict[str, str] = {"X-Parley-Category": category.value}
        unsubscribe_url = None
        if category is not Category.SECURITY:
            unsubscribe_url = self._unsubscribe.link(user.id, category)
            headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        body = self._templates.render(
            "notification",
            {
                "app_name": self._app_name,
                "display_name": user.display_name,
                "category": category.value,
                "items": [{"title": i.title, "body": i.body, "at": i.created_at} for i in items],
                "unsubscribe_url": unsubscribe_url,
            },
        )
        return OutgoingEmail(
            to=user.email,
            subject=f"[{self._app_name}] {digest_subject(category, items)}",
            text=body.text,
            html=body.html,
            headers=headers,
        )


class DeliverEmail:
    """Send through the ``Mailer`` (raises when refused: the job retries), then record it as sent."""

    def __init__(self, uow: UnitOfWorkFactory[RecipientTransaction], clock: Clock, mailer: Mailer) -> None:
        self._uow = uow
        self._clock = clock
        self._mailer = mailer

    async def __call__(
        self, user: User, category: Category, email: OutgoingEmail, *, pending: list[uuid.UUID] | None = None
    ) -> SentEmail:
        await self._mailer.send(email)
        now = self._clock.now()
        sent = SentEmail(
            id=new_id(now),
            user_id=user.id,
            category=category,
            to=email.to,
            subject=email.subject,
            text=email.text,
            html=email.html,
            headers=dict(email.headers),
            transport=self._mailer.name,
            created_at=now,
        )
        async with self._uow() as tx:
            await tx.emails.record_sent(sent)
            if pending:
                await tx.emails.mark_sent(pending, sent.id, now)
        return sent
