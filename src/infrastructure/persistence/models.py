"""SQLAlchemy models. They are infrastructure: repositories map them to and from domain objects.

Every model module must be imported here so that Alembic's autogenerate sees every table (a model
it does not see is a table it would drop).
"""

from __future__ import annotations

from datetime import datetime

from advanced_alchemy.base import UUIDv7AuditBase, orm_registry
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class JobReceiptModel(UUIDv7AuditBase):
    __tablename__ = "job_receipt"
    __table_args__ = (
        UniqueConstraint("job_name", "dedupe_key", name="uq_job_receipt_job_name_dedupe_key"),
        Index("ix_job_receipt_expires_at", "expires_at"),
    )

    job_name: Mapped[str] = mapped_column(String(100))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    completed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


metadata = orm_registry.metadata

__all__ = ["JobReceiptModel", "metadata"]
