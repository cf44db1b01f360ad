"""Repositories of the ``notifications`` context and the processed-events record."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from src.domain.notifications.email import PendingEmail, SentEmail
from src.domain.notifications.model import Audience, Category, ChannelChoice, Notification, Preferences
from src.infrastructure.persistence.models import UserModel
from src.infrastructure.persistence.notification_models import (
    NotificationModel,
    NotificationPreferenceModel,
    PendingEmailModel,
    ProcessedEventModel,
    SentEmailModel,
)


def _insert(session: AsyncSession) -> Callable[[Any], Any]:
    return postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


class SqlProcessedEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def exists(self, event_id: uuid.UUID, handler: str) -> bool:
        query = select(exists().where(ProcessedEventModel.event_id == event_id, ProcessedEventModel.handler == handler))
        return bool(await self._session.scalar(query))

    async def add(self, event_id: uuid.UUID, handler: str, now: datetime) -> bool:
        statement = (
            _insert(self._session)(ProcessedEventModel)
            .values(id=uuid7(), event_id=event_id, handler=handler, processed_at=now, created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["event_id", "handler"])
        )
        result = await self._session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete_before(self, cutoff: datetime, *, batch_size: int) -> int:
        old = (
            select(ProcessedEventModel.id)
            .where(ProcessedEventModel.processed_at < cutoff)
            .limit(batch_size)
            .scalar_subquery()
        )
        result = await self._session.execute(delete(ProcessedEventModel).where(ProcessedEventModel.id.in_(old)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _row(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "user_id": n.user_id,
        "category": n.category.value,
        "type": n.type,
        "title": n.title,
        "body": n.body,
        "data": n.data,
        "read_at": n.read_at,
        "dedupe_key": n.dedupe_key,
        "created_at": n.created_at,
        "updated_at": n.created_at,
    }


_NOTIFICATION = NotificationModel.__table__


def _notification(row: Any) -> Notification:
    """A notification from its ORM entity or from a plain row of its table (same attribute names)."""
    return Notification(
        id=row.id,
        user_id=row.user_id,
        category=Category(row.category),
        type=row.type,
        title=row.title,
        body=row.body,
        data=dict(row.data or {}),
        created_at=row.created_at,
        read_at=row.read_at,
        dedupe_key=row.dedupe_key,
    )


class SqlNotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, notification: Notification) -> bool:
        return await self.add_many([notification]) == 1

    async def add_many(self, notifications: list[Notification]) -> int:
        if not notifications:
            return 0
        # Parameters as a list (SQLAlchemy's "insertmanyvalues" batches with one cached statement):
        # about five times faster for a thousand rows than one statement rendered with every row
        # in it. RETURNING counts the rows stored (a conflict returns nothing).
        statement = (
            _insert(self._session)(NotificationModel)
            .on_conflict_do_nothing(index_elements=["user_id", "dedupe_key"])
            .returning(NotificationModel.id)
        )
        result = await self._session.execute(statement, [_row(n) for n in notifications])
        return len(result.all())

    async def get(self, notification_id: uuid.UUID) -> Notification | None:
        row = await self._session.get(NotificationModel, notification_id)
        return _notification(row) if row is not None else None

    async def list_for_user(
        self, user_id: uuid.UUID, *, unread_only: bool, before: uuid.UUID | None, limit: int
    ) -> list[Notification]:
        # Plain rows (Core), not ORM entities: the inbox is read often and its rows are never changed.
        query = select(_NOTIFICATION).where(_NOTIFICATION.c.user_id == user_id)
        if unread_only:
            query = query.where(_NOTIFICATION.c.read_at.is_(None))
        if before is not None:
            query = query.where(_NOTIFICATION.c.id < before)
        rows = await self._session.execute(query.order_by(_NOTIFICATION.c.id.desc()).limit(limit))
        return [_notification(r) for r in rows]

    async def list_after(self, user_id: uuid.UUID, after: uuid.UUID, *, limit: int) -> list[Notification]:
        query = (
            select(_NOTIFICATION)
            .where(_NOTIFICATION.c.user_id == user_id, _NOTIFICATION.c.id > after)
            .order_by(_NOTIFICATION.c.id)
            .limit(limit)
        )
        return [_notification(r) for r in await self._session.execute(query)]

    async def unread_count(self, user_id: uuid.UUID) -> int:
        query = select(func.count()).where(NotificationModel.user_id == user_id, NotificationModel.read_at.is_(None))
        return int(await self._session.scalar(query) or 0)

    async def mark_read(self, user_id: uuid.UUID, notification_id: uuid.UUID, now: datetime) -> bool:
        mine = and_(NotificationModel.id == notification_id, NotificationModel.user_id == user_id)
        await self._session.execute(
            update(NotificationModel)
            .where(mine, NotificationModel.read_at.is_(None))
            .values(read_at=now, updated_at=now)
        )
        return bool(await self._session.scalar(select(exists().where(mine))))

    async def mark_all_read(self, user_id: uuid.UUID, now: datetime) -> int:
        result = await self._session.execute(
            update(NotificationModel)
            .where(NotificationModel.user_id == user_id, NotificationModel.read_at.is_(None))
            .values(read_at=now, updated_at=now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def delete(self, user_id: uuid.UUID, notification_id: uuid.UUID) -> bool:
        result = await self._session.execute(
            delete(NotificationModel).where(
                NotificationModel.id == notification_id, NotificationModel.user_id == user_id
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete_read_before(self, cutoff: datetime, *, batch_size: int) -> int:
        old = (
            select(NotificationModel.id)
            .where(NotificationModel.read_at.is_not(None), NotificationModel.created_at < cutoff)
            .limit(batch_size)
            .scalar_subquery()
        )
        result = await self._session.execute(delete(NotificationModel).where(NotificationModel.id.in_(old)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def recipients(self, audience: Audience, *, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        query = select(UserModel.id).where(UserModel.is_active.is_(True))
        if audience.kind == "role":
            query = query.where(UserModel.role == audience.value)
        elif audience.kind == "tier":
            query = query.where(UserModel.tier == audience.value)
        if after is not None:
            query = query.where(UserModel.id > after)
        return list(await self._session.scalars(query.order_by(UserModel.id).limit(limit)))


class SqlPreferenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: uuid.UUID) -> Preferences:
        return (await self.get_many([user_id])).get(user_id, Preferences())

    async def get_many(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, Preferences]:
        if not user_ids:
            return {}
        rows = await self._session.scalars(
            select(NotificationPreferenceModel).where(NotificationPreferenceModel.user_id.in_(user_ids))
        )
        chosen: dict[uuid.UUID, dict[Category, ChannelChoice]] = {}
        for row in rows:
            chosen.setdefault(row.user_id, {})[Category(row.category)] = ChannelChoice(row.in_app, row.email)
        return {user_id: Preferences({**Preferences().choices, **choices}) for user_id, choices in chosen.items()}

    async def save(self, user_id: uuid.UUID, preferences: Preferences, now: datetime) -> None:
        insert = _insert(self._session)
        for category in Category:
            choice = preferences.of(category)
            statement = insert(NotificationPreferenceModel).values(
                id=uuid7(),
                user_id=user_id,
                category=category.value,
                in_app=choice.in_app,
                email=choice.email,
                created_at=now,
                updated_at=now,
            )
            await self._session.execute(
                statement.on_conflict_do_update(
                    index_elements=["user_id", "category"],
                    set_={"in_app": choice.in_app, "email": choice.email, "updated_at": now},
                )
            )


def _sent(row: SentEmailModel) -> SentEmail:
    return SentEmail(
        id=row.id,
        user_id=row.user_id,
        category=Category(row.category),
        to=row.to_address,
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        headers=dict(row.headers or {}),
        transport=row.transport,
        created_at=row.created_at,
    )


class SqlEmailRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def queue(self, email: PendingEmail) -> None:
        await self.queue_many([email])

    async def queue_many(self, emails: list[PendingEmail]) -> None:
        if not emails:
            return
        await self._session.execute(
            insert(PendingEmailModel),
            [
                {
                    "id": e.id,
                    "user_id": e.user_id,
                    "category": e.category.value,
                    "title": e.title,
                    "body": e.body,
                    "created_at": e.created_at,
                    "updated_at": e.created_at,
                }
                for e in emails
            ],
        )

    async def due_digests(
        self, now: datetime, *, window_start: datetime, limit: int
    ) -> list[tuple[uuid.UUID, Category]]:
        recent = exists().where(
            SentEmailModel.user_id == PendingEmailModel.user_id,
            SentEmailModel.category == PendingEmailModel.category,
            SentEmailModel.created_at >= window_start,
        )
        query = (
            select(PendingEmailModel.user_id, PendingEmailModel.category)
            .where(PendingEmailModel.sent_at.is_(None), PendingEmailModel.created_at <= now, ~recent)
            .group_by(PendingEmailModel.user_id, PendingEmailModel.category)
            .limit(limit)
        )
        return [(user_id, Category(category)) for user_id, category in await self._session.execute(query)]

    async def pending_for(self, user_id: uuid.UUID, category: Category) -> list[PendingEmail]:
        rows = await self._session.scalars(
            select(PendingEmailModel)
            .where(
                PendingEmailModel.sent_at.is_(None),
                PendingEmailModel.user_id == user_id,
                PendingEmailModel.category == category.value,
            )
            .order_by(PendingEmailModel.id)
        )
        return [PendingEmail(r.id, r.user_id, Category(r.category), r.title, r.body, r.created_at) for r in rows]

    async def mark_sent(self, ids: list[uuid.UUID], sent_email_id: uuid.UUID | None, now: datetime) -> None:
        await self._session.execute(
            update(PendingEmailModel)
            .where(PendingEmailModel.id.in_(ids))
            .values(sent_at=now, sent_email_id=sent_email_id, updated_at=now)
        )

    async def record_sent(self, email: SentEmail) -> None:
        self._session.add(
            SentEmailModel(
                id=email.id,
                user_id=email.user_id,
                category=email.category.value,
                to_address=email.to,
                subject=email.subject[:300],
                text_body=email.text,
                html_body=email.html,
                headers=dict(email.headers),
                transport=email.transport,
                created_at=email.created_at,
                updated_at=email.created_at,
            )
        )
        await self._session.flush()

    async def list_sent(self, *, limit: int) -> list[SentEmail]:
        rows = await self._session.scalars(select(SentEmailModel).order_by(SentEmailModel.id.desc()).limit(limit))
        return [_sent(r) for r in rows]

    async def get_sent(self, email_id: uuid.UUID) -> SentEmail | None:
        row = await self._session.get(SentEmailModel, email_id)
        return _sent(row) if row is not None else None
