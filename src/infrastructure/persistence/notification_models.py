"""SQLAlchemy models of the ``notifications`` context and of the event bus's processed-events record
(listed in ``schema.py`` for Alembic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from src.infrastructure.persistence.orm import GUID, DateTimeUTC, UUIDv7AuditBase

_JSON = JSON().with_variant(JSONB(), "postgresql")


class ProcessedEventModel(UUIDv7AuditBase):
    """One event handler that completed for one event: a redelivery skips it."""

    __tablename__ = "processed_event"
    __table_args__ = (
        UniqueConstraint("event_id", "handler", name="uq_processed_event_event_id_handler"),
        Index("ix_processed_event_processed_at", "processed_at"),
    )

    event_id: Mapped[UUID] = mapped_column(GUID)
    handler: Mapped[str] = mapped_column(String(100))
    processed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class NotificationModel(UUIDv7AuditBase):
    __tablename__ = "notification"
    __table_args__ = (
        # One per user and dedupe key (an event, an announcement); NULL keys never collide.
        UniqueConstraint("user_id", "dedupe_key", name="uq_notification_user_id_dedupe_key"),
        # The inbox, newest first, paged by id (UUIDv7: time order) ...
        Index("ix_notification_user_id_id", "user_id", "id"),
        # ... the unread count and the unread filter ...
        Index("ix_notification_user_id_read_at", "user_id", "read_at"),
        # ... and the retention prune of read ones.
        Index("ix_notification_read_at", "read_at"),
    )

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(_JSON)
    read_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True)


class NotificationPreferenceModel(UUIDv7AuditBase):
    """A user's choice for one category; a category without a row has the defaults."""

    __tablename__ = "notification_preference"
    __table_args__ = (UniqueConstraint("user_id", "category", name="uq_notification_preference_user_id_category"),)

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(20))
    in_app: Mapped[bool] = mapped_column(Boolean)
    email: Mapped[bool] = mapped_column(Boolean)


class PendingEmailModel(UUIDv7AuditBase):
    """A notification waiting for its category's next e-mail digest."""

    __tablename__ = "pending_email"
    __table_args__ = (Index("ix_pending_email_sent_at_user_id_category", "sent_at", "user_id", "category"),)

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    #: The mail it went out in; NULL while waiting, or when it was dropped (e-mail turned off).
    sent_email_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)


class SentEmailModel(UUIDv7AuditBase):
    """Every e-mail that went out, as rendered (``parley mail list|show``)."""

    __tablename__ = "sent_email"
    __table_args__ = (
        # The digest's "anything of this category sent to this user since ..." ...
        Index("ix_sent_email_user_id_category_created_at", "user_id", "category", "created_at"),
        # ... and the newest-first listing.
        Index("ix_sent_email_created_at", "created_at"),
    )

    user_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    category: Mapped[str] = mapped_column(String(20))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(_JSON)
    transport: Mapped[str] = mapped_column(String(20))
