"""Ports of the ``admin`` context. Adapters: ``admin_repositories.py`` (the audit log and the moderation
queue), ``analytics_queries.py`` (the analytics) and ``src/infrastructure/admin/`` (instances'
heartbeats, the system's probes)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from src.application.shared.ports import Transaction
from src.domain.admin.analytics import DayRange, TopBy, UsageGroupBy, UsageStats
from src.domain.admin.audit import AuditEvent, AuditQuery
from src.domain.admin.moderation import ContentReport, ReportKind
from src.domain.ai.moderation_queue import ModerationItem, ModerationItemKind, ModerationItemStatus


class AuditLogRepository(Protocol):
    """Append-only: events are added and read; only the retention prune deletes (nothing updates)."""

    async def add(self, event: AuditEvent) -> None:
        """Write ``event`` in the caller's transaction: it commits with the change it records, or not at all."""
        ...

    async def page(self, query: AuditQuery, *, limit: int) -> list[AuditEvent]:
        """Up to ``limit`` events matching the filters, newest first, older than ``query.before``."""
        ...

    async def delete_before(self, cutoff: datetime, *, batch_size: int) -> int:
        """The retention prune: delete up to ``batch_size`` events older than ``cutoff``; the number deleted."""
        ...


@dataclass(frozen=True, slots=True)
class ModerationFilter:
    status: ModerationItemStatus = ModerationItemStatus.OPEN
    kinds: tuple[ModerationItemKind, ...] = ()
    #: Keyset: items older than this one (the last id of the previous page).
    before: uuid.UUID | None = None
    limit: int = 50


class ModerationItemRepository(Protocol):
    """The moderation queue inside a unit of work (the scanners' ``ModerationQueue`` writes on its own)."""

    async def get(self, item_id: uuid.UUID) -> ModerationItem | None: ...

    async def open_for(self, kind: ModerationItemKind, target_id: uuid.UUID) -> ModerationItem | None:
        """The open item about this target, if there is one."""
        ...

    async def add(self, item: ModerationItem) -> None: ...

    async def save(self, item: ModerationItem) -> None:
        """Store an item's reasons, report count, status and resolution."""
        ...

    async def page(self, item_filter: ModerationFilter) -> list[ModerationItem]:
        """Items with the filter's status and kinds, newest first."""
        ...

    async def resolve_open_for(
        self, kinds: Sequence[ModerationItemKind], target_id: uuid.UUID, item: ModerationItem
    ) -> int:
        """Resolve the other open items about the same target the way ``item`` was resolved; how many."""
        ...


class ContentReportRepository(Protocol):
    async def add(self, report: ContentReport) -> bool:
        """Store ``report``; ``False`` when this member reported this content already."""
        ...

    async def exists(self, reporter_id: uuid.UUID, kind: ReportKind, target_id: uuid.UUID) -> bool: ...


class AuditTransaction(Transaction, Protocol):
    """The audit log in a transaction: what any context's use case needs to ``record_audit``."""

    @property
    def audit(self) -> AuditLogRepository: ...


class AdminTransaction(AuditTransaction, Protocol):
    """The admin context's repositories, in one transaction."""

    @property
    def moderation_items(self) -> ModerationItemRepository: ...

    @property
    def content_reports(self) -> ContentReportRepository: ...


@dataclass(frozen=True, slots=True)
class UsageAnalytics:
    days: DayRange
    group_by: UsageGroupBy
    #: The groups, by day (oldest first) or by cost (highest first); at most the limit asked for.
    items: list[UsageStats]
    #: Every call of the range (not only the groups listed).
    totals: UsageStats


@dataclass(frozen=True, slots=True)
class UserActivityDay:
    day: date
    #: The users' tier today (a user who changed tier counts in their current one).
    tier: str
    signups: int
    #: Users who made at least one model call that day.
    active_users: int


@dataclass(frozen=True, slots=True)
class ArticleDay:
    day: date
    status: str
    articles: int


@dataclass(frozen=True, slots=True)
class TagCount:
    tag: str
    articles: int


@dataclass(frozen=True, slots=True)
class ContentAnalytics:
    days: DayRange
    items: list[ArticleDay]
    #: The tags of the articles created in the range, most used first.
    top_tags: list[TagCount]


@dataclass(frozen=True, slots=True)
class Spender:
    user_id: uuid.UUID
    email: str
    display_name: str
    tier: str
    requests: int
    cost_micros: int


class AnalyticsReader(Protocol):
    """Read-only queries over every user's usage, sign-ups and articles (never one user's own view)."""

    async def usage(self, days: DayRange, group_by: UsageGroupBy, *, limit: int) -> UsageAnalytics: ...

    async def user_activity(self, days: DayRange) -> list[UserActivityDay]:
        """One row per day and tier that had a sign-up or an active user."""
        ...

    async def content(self, days: DayRange, *, top_tags: int) -> ContentAnalytics: ...

    async def top_spenders(self, days: DayRange, by: TopBy, *, limit: int, whole_month: bool) -> list[Spender]:
        """The users who spent most (``cost``) or called most (``requests``) in ``days``; ``whole_month``
        says ``days`` is a calendar month so far (its running totals can answer)."""
        ...


# -- system status ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstanceReport:
    """What one running process says about itself (its heartbeat)."""

    instance_id: str
    role: str
    host: str
    pid: int
    version: str
    started_at: datetime
    seen_at: datetime
    open_websockets: int
    streaming_replies: int
    #: HTTP requests answered and those that were server errors (5xx), in the last window.
    recent_requests: int
    recent_server_errors: int
    #: Circuit breaker states this process sees: ``provider name -> closed | half_open | open``.
    breakers: Mapping[str, str] = field(default_factory=dict)


class InstanceRegistry(Protocol):
    """Every running instance's latest heartbeat (Redis, with a short expiry), or only this process's."""

    async def instances(self) -> list[InstanceReport]: ...

    def local(self) -> InstanceReport:
        """This process's own report, now."""
        ...

    @property
    def instance_id(self) -> str:
        """This process's id among the instances."""
        ...

    @property
    def shared(self) -> bool:
        """Whether other instances are seen too (Redis), or only this process."""
        ...


@dataclass(frozen=True, slots=True)
class DependencyLatency:
    name: str
    #: ``up``, ``down`` or ``not_configured``.
    status: str
    latency_ms: float | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class JobsState:
    #: Jobs waiting, per queue (``None``: the queue could not be read).
    queue_depth: Mapping[str, int | None]
    #: Jobs that failed for good and are kept for inspection (``None``: not tracked without Redis).
    failed_jobs: int | None
    outbox_backlog: int
    outbox_oldest_age_seconds: float


class SystemProbes(Protocol):
    """The services Parley depends on, measured now."""

    async def database(self) -> DependencyLatency: ...

    async def redis(self) -> DependencyLatency: ...

    async def jobs(self) -> JobsState: ...
