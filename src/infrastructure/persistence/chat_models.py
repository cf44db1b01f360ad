"""SQLAlchemy models of the ``chat`` and ``usage`` contexts (listed in ``schema.py`` for Alembic)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from src.infrastructure.persistence.orm import GUID, DateTimeUTC, DefaultBase, UUIDv7AuditBase

_JSON = JSON().with_variant(JSONB(), "postgresql")


class ConversationModel(UUIDv7AuditBase):
    __tablename__ = "conversation"
    __table_args__ = (
        # A user's list: active or archived, latest activity first.
        Index("ix_conversation_user_id_archived_last_activity_at", "user_id", "archived", "last_activity_at"),
        # Stale-reply recovery looks for leases that ran out.
        Index("ix_conversation_generating_until", "generating_until"),
    )

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    model: Mapped[str] = mapped_column(String(200))
    system_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    temperature: Mapped[float | None] = mapped_column(Float, nullable=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``{"knowledge": true | [tags]}`` or NULL.
    grounding: Mapped[dict[str, Any] | None] = mapped_column(_JSON, nullable=True)
    last_activity_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    #: The reply lock: which reply is being generated, and until when its instance holds it.
    generating_message_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    generating_until: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    token_total: Mapped[int] = mapped_column(BigInteger, default=0)
    next_seq: Mapped[int] = mapped_column(Integer, default=1)
    title_requested_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    #: The cap on the history a reply sends; NULL: the deployment's CHAT_CONTEXT_TOKENS.
    context_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The running summary of the turns beyond the cap (src/domain/chat/summary.py).
    summarize: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    summary_token_end: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    summary_through_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    summary_updated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    summary_requested_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class ChatMessageModel(UUIDv7AuditBase):
    __tablename__ = "chat_message"
    __table_args__ = (
        # Pagination (newest first, by seq) and the message order.
        UniqueConstraint("conversation_id", "seq", name="uq_chat_message_conversation_id_seq"),
        # The context window: the latest messages whose running token start is above a threshold.
        Index("ix_chat_message_conversation_id_token_start", "conversation_id", "token_start"),
        CheckConstraint("role in ('user', 'assistant')", name="role_known"),
        CheckConstraint("status in ('generating', 'complete')", name="status_known"),
    )

    conversation_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("conversation.id", ondelete="CASCADE"))
    #: The owner, copied from the conversation: search and usage read a user's messages directly.
    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    provider: Mapped[str | None] = mapped_column(String(50), nullable=True)
    finish_reason: Mapped[str | None] = mapped_column(String(30), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    input_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    output_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cached_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    usage_estimated: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ttft_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(_JSON, default=list)
    token_start: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    token_count: Mapped[int] = mapped_column(Integer, default=0)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)


class UsageRecordModel(UUIDv7AuditBase):
    """One paid model call. No foreign key to the conversation: usage outlives a deleted conversation."""

    __tablename__ = "usage_record"
    __table_args__ = (Index("ix_usage_record_user_id_usage_date", "user_id", "usage_date"),)

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    conversation_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    message_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    #: The API key of a call made with one (the gateway); no foreign key: a key's usage stays counted.
    api_key_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(Integer, default=0)
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The UTC day of ``created_at``: grouping by day is the same on every database.
    usage_date: Mapped[date] = mapped_column(Date)
    #: From the request to the last token, and to the first (NULL: not measured).
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ttft_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Why the call ended in error (NULL: it did not).
    error_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: Answered by a fallback model rather than the one asked for.
    fallback: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class UsageDailyModel(DefaultBase):
    """The day's totals of one user's calls to one model with one API key: the admin analytics' rollup.

    Kept with each usage record, in its transaction (one upsert, on a row only that user's calls
    write), so a month of analytics reads a few rows per active user and day instead of every call.
    Latencies are kept as counts per bucket (``domain.admin.analytics.latency_bucket``), as JSON text.
    """

    __tablename__ = "usage_daily"
    __table_args__ = (
        # The latency histograms of the users or API keys an analytics report lists.
        Index("ix_usage_daily_user_id_usage_date", "user_id", "usage_date"),
        Index("ix_usage_daily_api_key_id_usage_date", "api_key_id", "usage_date"),
    )

    usage_date: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(50), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: The nil UUID for calls made without an API key (a key in a primary key cannot be NULL).
    api_key_id: Mapped[UUID] = mapped_column(GUID, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    fallbacks: Mapped[int] = mapped_column(Integer, default=0)
    #: ``{"<bucket lower bound, ms>": calls}`` of the calls that were timed.
    latency_histogram: Mapped[str] = mapped_column(Text, default="{}")
    ttft_histogram: Mapped[str] = mapped_column(Text, default="{}")


class UsageModelDayModel(DefaultBase):
    """The day's latency histograms of the calls to one model, with an API key or without: the coarse
    rollup the analytics read their percentiles from (a day of it is two rows per model called at most,
    where ``usage_daily`` has one per user, model and API key: merging a month's histograms is then
    hundreds of rows, not tens of thousands).

    Kept with each usage record, in its transaction, like ``usage_daily`` (one upsert on the day's row
    of the record's model). It has no user in it: a deleted user's calls stay in it (the sums, read
    from ``usage_daily``, drop them).
    """

    __tablename__ = "usage_daily_model"

    usage_date: Mapped[date] = mapped_column(Date, primary_key=True)
    provider: Mapped[str] = mapped_column(String(50), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: Calls made with an API key, or without (the analytics' ``no_api_key`` group).
    with_api_key: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    #: ``{"<bucket lower bound, ms>": calls}``, as in ``usage_daily``.
    latency_histogram: Mapped[str] = mapped_column(Text, default="{}")
    ttft_histogram: Mapped[str] = mapped_column(Text, default="{}")


class UsageMonthModel(UUIDv7AuditBase):
    """A user's running total for one month, updated with each usage record: the budget check is O(1)."""

    __tablename__ = "usage_month"
    __table_args__ = (
        UniqueConstraint("user_id", "month", name="uq_usage_month_user_id_month"),
        # Top spenders of a month.
        Index("ix_usage_month_month_cost_micros", "month", "cost_micros"),
    )

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    #: The first day of the month (UTC).
    month: Mapped[date] = mapped_column(Date)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class UserBudgetModel(UUIDv7AuditBase):
    """A monthly budget an admin gave one user (without a row, the user's tier decides)."""

    __tablename__ = "user_budget"
    __table_args__ = (UniqueConstraint("user_id", name="uq_user_budget_user_id"),)

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    monthly_budget_micros: Mapped[int] = mapped_column(BigInteger)
