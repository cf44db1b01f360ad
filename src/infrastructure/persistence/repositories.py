"""Repositories: the domain's collections, backed by one ``AsyncSession``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from src.application.shared.ports import Clock
from src.domain.shared.jobs import JobReceipt
from src.domain.shared.outbox import OutboxBacklog, OutboxMessage
from src.infrastructure.persistence.models import JobReceiptModel, OutboxMessageModel


class SqlJobReceiptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def exists(self, job_name: str, dedupe_key: str) -> bool:
        query = select(exists().where(JobReceiptModel.job_name == job_name, JobReceiptModel.dedupe_key == dedupe_key))
        return bool(await self._session.scalar(query))

    async def add(self, receipt: JobReceipt) -> bool:
        row = JobReceiptModel(
            job_name=receipt.job_name,
            dedupe_key=receipt.dedupe_key,
            completed_at=receipt.completed_at,
            expires_at=receipt.expires_at,
        )
        # A savepoint keeps the surrounding transaction usable when the receipt already exists.
        try:
            async with self._session.begin_nested():
                self._session.add(row)
                await self._session.flush()
        except IntegrityError:
            return False
        return True

    async def delete_expired(self, now: datetime, *, batch_size: int) -> int:
        expired_ids = (
            select(JobReceiptModel.id).where(JobReceiptModel.expires_at < now).limit(batch_size).scalar_subquery()
        )
        result = await self._session.execute(delete(JobReceiptModel).where(JobReceiptModel.id.in_(expired_ids)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class SqlOutboxRepository:
    def __init__(self, session: AsyncSession, clock: Clock, *, on_add: Callable[[], None]) -> None:
        self._session = session
        self._clock = clock
        self._on_add = on_add
        self._claimed: dict[UUID, OutboxMessageModel] = {}

    async def add(self, job_name: str, payload: Mapping[str, Any] | None = None) -> OutboxMessage:
        message = OutboxMessage.create(job_name, payload or {}, id=uuid7(), now=self._clock.now())
        self._session.add(
            OutboxMessageModel(
                id=message.id,
                job_name=message.job_name,
                payload=message.payload,
                attempts=message.attempts,
                available_at=message.available_at,
                created_at=message.created_at,
                updated_at=message.created_at,
            )
        )
        # Flushed now, so that a mistake surfaces at the call and later reads in this
        # transaction see the row.
        await self._session.flush()
        self._on_add()
        return message

    async def claim_due(self, now: datetime, *, limit: int) -> list[OutboxMessage]:
        query = (
            select(OutboxMessageModel)
            .where(OutboxMessageModel.sent_at.is_(None), OutboxMessageModel.available_at <= now)
            .order_by(OutboxMessageModel.available_at, OutboxMessageModel.id)
            .limit(limit)
            # PostgreSQL: rows another relay holds are skipped, not waited for, so relays in
            # several processes never send the same row at once. SQLite renders no FOR UPDATE:
            # its IMMEDIATE transactions already let one writer at a time through.
            .with_for_update(skip_locked=True)
        )
        rows = (await self._session.scalars(query)).all()
        self._claimed.update((row.id, row) for row in rows)
        return [_to_message(row) for row in rows]

    async def sent_before(
        self, sent_before: datetime, *, created_after: datetime, max_attempts: int, limit: int
    ) -> list[OutboxMessage]:
        query = (
            select(OutboxMessageModel)
            .where(
                OutboxMessageModel.sent_at.is_not(None),
                OutboxMessageModel.sent_at < sent_before,
                OutboxMessageModel.created_at > created_after,
                OutboxMessageModel.attempts < max_attempts,
            )
            .order_by(OutboxMessageModel.created_at, OutboxMessageModel.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (await self._session.scalars(query)).all()
        self._claimed.update((row.id, row) for row in rows)
        return [_to_message(row) for row in rows]

    async def save(self, message: OutboxMessage) -> None:
        row = self._claimed.get(message.id) or await self._session.get(OutboxMessageModel, message.id)
        if row is None:
            raise LookupError(f"outbox message {message.id} does not exist")
        row.attempts = message.attempts
        row.available_at = message.available_at
        row.last_error = message.last_error
        row.sent_at = message.sent_at
        # Flushed with the commit: a relay round writes its whole batch in one go.

    async def backlog(self) -> OutboxBacklog:
        await self._session.flush()  # count this transaction's own changes too (autoflush is off)
        query = select(func.count(), func.min(OutboxMessageModel.created_at)).where(
            OutboxMessageModel.sent_at.is_(None)
        )
        pending, oldest = (await self._session.execute(query)).one()
        return OutboxBacklog(pending=int(pending), oldest_created_at=oldest)

    async def delete_sent_before(self, cutoff: datetime, *, batch_size: int) -> int:
        old_ids = (
            select(OutboxMessageModel.id).where(OutboxMessageModel.sent_at < cutoff).limit(batch_size).scalar_subquery()
        )
        result = await self._session.execute(delete(OutboxMessageModel).where(OutboxMessageModel.id.in_(old_ids)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _to_message(row: OutboxMessageModel) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        job_name=row.job_name,
        payload=dict(row.payload),
        created_at=row.created_at,
        available_at=row.available_at,
        attempts=row.attempts,
        last_error=row.last_error,
        sent_at=row.sent_at,
    )
