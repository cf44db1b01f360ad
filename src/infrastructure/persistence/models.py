"""SQLAlchemy models of the identity context and of what every context shares (the outbox, job
receipts). They are infrastructure: repositories map them to and from domain objects.

Each context's models live in their own module (``chat_models.py``, ...), imported by the repositories
that use them, so a command that reads users loads no chat table. Alembic and the schema check see
every table through ``schema.every_table()``, which lists every model module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from src.infrastructure.persistence.orm import GUID, DateTimeUTC, UUIDv7AuditBase


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


class UserModel(UUIDv7AuditBase):
    """An account. ``user`` is a reserved word in PostgreSQL, hence ``user_account``."""

    __tablename__ = "user_account"
    __table_args__ = (
        # Emails are stored normalised (trimmed, lower-case), so one unique index on the column
        # is case-insensitive uniqueness; the check keeps a careless writer from breaking that.
        UniqueConstraint("email", name="uq_user_account_email"),
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        # Admin listing and search: newest first, paginated.
        Index("ix_user_account_created_at", "created_at"),
    )

    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    tier: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    #: At most MAX_BIO_LENGTH characters (Text: the limit is the domain's, not the column's).
    bio: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: The current avatar's digest (files ``avatars/<user id>/<version>-<size>.webp``); NULL without one.
    avatar_version: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RefreshTokenModel(UUIDv7AuditBase):
    """One link of a session's refresh-token chain; only the token's digest is stored."""

    __tablename__ = "refresh_token"
    __table_args__ = (
        # Every refresh looks its token up by digest.
        UniqueConstraint("token_hash", name="uq_refresh_token_token_hash"),
        # Sign-out and theft detection revoke a whole family; sign-out-everywhere all of a user's.
        Index("ix_refresh_token_family_id", "family_id"),
        Index("ix_refresh_token_user_id", "user_id"),
        # The prune job deletes by expiry.
        Index("ix_refresh_token_expires_at", "expires_at"),
    )

    family_id: Mapped[UUID] = mapped_column(GUID)
    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class ApiKeyModel(UUIDv7AuditBase):
    """A key for programs; only its digest and a short visible prefix are stored."""

    __tablename__ = "api_key"
    __table_args__ = (
        UniqueConstraint("key_hash", name="uq_api_key_key_hash"),
        Index("ix_api_key_user_id", "user_id"),
    )

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


__all__ = ["ApiKeyModel", "JobReceiptModel", "OutboxMessageModel", "RefreshTokenModel", "UserModel"]
