"""Repositories: the domain's collections, backed by one ``AsyncSession``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from src.domain.shared.jobs import JobReceipt
from src.infrastructure.persistence.models import JobReceiptModel


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
