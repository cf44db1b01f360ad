"""SQLAlchemy models of the admin console: the audit log and members' content reports (listed in
``schema.py`` for Alembic). The moderation queue's items are in ``ai_models.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from src.infrastructure.persistence.orm import GUID, DateTimeUTC, UUIDv7AuditBase, UUIDv7Base

_JSON = JSON().with_variant(JSONB(), "postgresql")

#: Raised by the PostgreSQL trigger that keeps ``audit_events`` append-only (see the migration).
AUDIT_PRUNE_SETTING = "parley.audit_prune"


class AuditEventModel(UUIDv7Base):
    """One audit event. Append-only: no foreign keys (an event outlives the account it names, and a
    cascade would have to change it), no ``updated_at``; on PostgreSQL a trigger refuses UPDATE, and
    DELETE outside the retention prune."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # The log is read newest first, paged by id (UUIDv7: time order), whole or by actor, action, target.
        Index("ix_audit_events_actor_id_id", "actor_id", "id"),
        Index("ix_audit_events_action_id", "action", "id"),
        Index("ix_audit_events_target_id_id", "target_id", "id"),
        # The retention prune.
        Index("ix_audit_events_at", "at"),
    )

    at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    actor_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    actor_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(50))
    target_type: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(_JSON)


class ContentReportModel(UUIDv7AuditBase):
    """A member's report of a message or an article: one per member and piece of content."""

    __tablename__ = "content_reports"
    __table_args__ = (
        UniqueConstraint("reporter_id", "kind", "target_id", name="uq_content_reports_reporter_id_kind_target_id"),
        Index("ix_content_reports_kind_target_id", "kind", "target_id"),
    )

    reporter_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[UUID] = mapped_column(GUID)
    reason: Mapped[str] = mapped_column(Text)
