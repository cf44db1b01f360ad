"""SQLAlchemy models. They are infrastructure: repositories map them to and from domain objects.

Every model module must be imported here so that Alembic's autogenerate sees every table (a model
it does not see is a table it would drop).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from advanced_alchemy.base import UUIDv7AuditBase, orm_registry
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
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


class OutboxMessageModel(UUIDv7AuditBase):
    """Background work committed with the change that caused it, waiting for the relay."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        # The relay's query (unsent and available: `sent_at IS NULL AND available_at <= now`) and
        # the pruning of old sent rows (`sent_at < cutoff`) both walk this index.
        Index("ix_outbox_message_sent_at_available_at", "sent_at", "available_at"),
    )

    job_name: Mapped[str] = mapped_column(String(100))
    #: JSONB on PostgreSQL, JSON text on SQLite. (advanced-alchemy's ``JsonB`` adds an Oracle
    #: variant that fails on this SQLAlchemy version; the two variants Parley runs on are enough.)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


metadata = orm_registry.metadata

__all__ = ["JobReceiptModel", "OutboxMessageModel", "metadata"]
