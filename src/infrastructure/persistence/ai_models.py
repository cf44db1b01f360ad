"""SQLAlchemy models of the ``ai`` context (listed in ``schema.py`` for Alembic)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from src.infrastructure.persistence.orm import GUID, DateTimeUTC, UUIDv7AuditBase

_JSON = JSON().with_variant(JSONB(), "postgresql")


class ModerationItemModel(UUIDv7AuditBase):
    """A flagged message, reply or passage waiting for review; ``created_at`` from the audit base."""

    __tablename__ = "moderation_items"
    __table_args__ = (
        CheckConstraint("status in ('open', 'resolved')", name="status_known"),
        # The review queue: open items, oldest first.
        Index("ix_moderation_items_status_created_at", "status", "created_at"),
        Index("ix_moderation_items_kind_target_id", "kind", "target_id"),
        # The admin console's list: by status, newest first, paged by id (UUIDv7: time order).
        Index("ix_moderation_items_status_id", "status", "id"),
    )

    kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[UUID] = mapped_column(GUID)
    user_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    reasons: Mapped[list[str]] = mapped_column(_JSON)
    excerpt: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")
    #: Members who reported the target (each once: ``content_reports``).
    report_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    resolution: Mapped[str | None] = mapped_column(String(20), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    #: The moderator; no foreign key, like the audit log: the record stays when the account goes
    #: (and adding the column needs no table rebuild on SQLite).
    resolved_by: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)
