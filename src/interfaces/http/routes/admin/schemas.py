"""Bodies of the admin console's routes: analytics, system status, the audit log, the moderation
queue and reports."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from src.application.admin.get_top_spenders import TopSpenders
from src.application.admin.get_user_analytics import UserAnalytics
from src.application.admin.list_audit_events import AuditPage
from src.application.admin.list_moderation_items import ModerationPage
from src.application.admin.ports import ContentAnalytics, DependencyLatency, UsageAnalytics
from src.application.admin.report_content import ReportView
from src.application.admin.system_status import InstanceStatus, SystemStatus
from src.domain.admin.analytics import UsageStats
from src.domain.admin.audit import AuditEvent
from src.domain.admin.moderation import MAX_REPORT_REASON
from src.domain.ai.moderation_queue import MAX_RESOLUTION_NOTE, ModerationItem
from src.domain.usage.model import micros_to_dollars

_MS = "milliseconds; null when no call of the group measured it"


class UsageStatsResponse(msgspec.Struct):
    key: Annotated[
        str,
        msgspec.Meta(
            description="The day (`YYYY-MM-DD`, UTC), user id, model (`provider/model`), provider, or API key id "
            "(`no_api_key`: calls made without one); `total` for the totals."
        ),
    ]
    label: Annotated[str | None, msgspec.Meta(description="The user's email or the API key's name, when known.")]
    requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost_micros: Annotated[int, msgspec.Meta(description="Micro-dollars: exactly the sum of the calls' costs.")]
    cost_usd: Annotated[str, msgspec.Meta(description="The same in dollars, e.g. `0.0125`.")]
    errors: Annotated[int, msgspec.Meta(description="Calls that ended in error (what they generated is charged).")]
    fallbacks: Annotated[int, msgspec.Meta(description="Calls answered by a fallback model.")]
    latency_p50_ms: Annotated[float | None, msgspec.Meta(description=f"Median request-to-last-token, {_MS}.")]
    latency_p95_ms: Annotated[float | None, msgspec.Meta(description=f"95th percentile latency, {_MS}.")]
    ttft_p50_ms: Annotated[float | None, msgspec.Meta(description=f"Median time to first token, {_MS}.")]
    ttft_p95_ms: Annotated[float | None, msgspec.Meta(description=f"95th percentile time to first token, {_MS}.")]

    @classmethod
    def of(cls, stats: UsageStats) -> UsageStatsResponse:
        return cls(
            key=stats.key,
            label=stats.label,
            requests=stats.requests,
            input_tokens=stats.input_tokens,
            output_tokens=stats.output_tokens,
            cached_tokens=stats.cached_tokens,
            reasoning_tokens=stats.reasoning_tokens,
            cost_micros=stats.cost_micros,
            cost_usd=micros_to_dollars(stats.cost_micros),
            errors=stats.errors,
            fallbacks=stats.fallbacks,
            latency_p50_ms=stats.latency_p50_ms,
            latency_p95_ms=stats.latency_p95_ms,
            ttft_p50_ms=stats.ttft_p50_ms,
            ttft_p95_ms=stats.ttft_p95_ms,
        )


class UsageAnalyticsResponse(msgspec.Struct, rename={"from_": "from"}):
    from_: date
    to: date
    group_by: str
    items: list[UsageStatsResponse]
    totals: Annotated[UsageStatsResponse, msgspec.Meta(description="Every call of the range, listed or not.")]

    @classmethod
    def of(cls, report: UsageAnalytics) -> UsageAnalyticsResponse:
        return cls(
            from_=report.days.start,
            to=report.days.end,
            group_by=report.group_by.value,
            items=[UsageStatsResponse.of(s) for s in report.items],
            totals=UsageStatsResponse.of(report.totals),
        )


class UserActivityResponse(msgspec.Struct):
    day: date
    tier: Annotated[str, msgspec.Meta(description="The users' tier now.")]
    signups: int
    active_users: Annotated[int, msgspec.Meta(description="Users who made at least one model call that day.")]


class UserAnalyticsResponse(msgspec.Struct, rename={"from_": "from"}):
    from_: date
    to: date
    items: Annotated[
        list[UserActivityResponse], msgspec.Meta(description="One row per day and tier with any activity.")
    ]

    @classmethod
    def of(cls, report: UserAnalytics) -> UserAnalyticsResponse:
        return cls(
            from_=report.days.start,
            to=report.days.end,
            items=[
                UserActivityResponse(day=i.day, tier=i.tier, signups=i.signups, active_users=i.active_users)
                for i in report.items
            ],
        )


class ArticleDayResponse(msgspec.Struct):
    day: date
    status: Annotated[str, msgspec.Meta(description="`draft` or `published`, as the article is now.")]
    articles: int


class TagCountResponse(msgspec.Struct):
    tag: str
    articles: int


class ContentAnalyticsResponse(msgspec.Struct, rename={"from_": "from"}):
    from_: date
    to: date
    items: Annotated[list[ArticleDayResponse], msgspec.Meta(description="Articles created per day and status.")]
    top_tags: Annotated[
        list[TagCountResponse], msgspec.Meta(description="The tags of the range's articles, most used first (10).")
    ]

    @classmethod
    def of(cls, report: ContentAnalytics) -> ContentAnalyticsResponse:
        return cls(
            from_=report.days.start,
            to=report.days.end,
            items=[ArticleDayResponse(day=i.day, status=i.status, articles=i.articles) for i in report.items],
            top_tags=[TagCountResponse(tag=t.tag, articles=t.articles) for t in report.top_tags],
        )


class SpenderResponse(msgspec.Struct):
    user_id: uuid.UUID
    email: str
    display_name: str
    tier: str
    requests: int
    cost_micros: int
    cost_usd: str


class TopSpendersResponse(msgspec.Struct, rename={"from_": "from"}):
    by: str
    period: str
    from_: date
    to: date
    items: list[SpenderResponse]

    @classmethod
    def of(cls, report: TopSpenders) -> TopSpendersResponse:
        return cls(
            by=report.by.value,
            period=report.period.value,
            from_=report.days.start,
            to=report.days.end,
            items=[
                SpenderResponse(
                    user_id=s.user_id,
                    email=s.email,
                    display_name=s.display_name,
                    tier=s.tier,
                    requests=s.requests,
                    cost_micros=s.cost_micros,
                    cost_usd=micros_to_dollars(s.cost_micros),
                )
                for s in report.items
            ],
        )


class DependencyResponse(msgspec.Struct):
    status: Annotated[str, msgspec.Meta(description="`up`, `down` or `not_configured`.")]
    latency_ms: Annotated[float | None, msgspec.Meta(description="Round trip of a trivial command.")]
    error: str | None

    @classmethod
    def of(cls, found: DependencyLatency) -> DependencyResponse:
        return cls(status=found.status, latency_ms=found.latency_ms, error=found.error)


class InstanceResponse(msgspec.Struct):
    instance_id: str
    role: Annotated[str, msgspec.Meta(description="`api` or `worker`.")]
    host: str
    pid: int
    version: str
    started_at: datetime
    uptime_seconds: float
    last_heartbeat_at: datetime
    current: Annotated[bool, msgspec.Meta(description="The instance that answered this request.")]
    open_websockets: int
    streaming_replies: int
    recent_requests: int
    recent_server_errors: int
    breakers: dict[str, str]

    @classmethod
    def of(cls, instance: InstanceStatus) -> InstanceResponse:
        r = instance.report
        return cls(
            instance_id=r.instance_id,
            role=r.role,
            host=r.host,
            pid=r.pid,
            version=r.version,
            started_at=r.started_at,
            uptime_seconds=instance.uptime_seconds,
            last_heartbeat_at=r.seen_at,
            current=instance.current,
            open_websockets=r.open_websockets,
            streaming_replies=r.streaming_replies,
            recent_requests=r.recent_requests,
            recent_server_errors=r.recent_server_errors,
            breakers=dict(r.breakers),
        )


class JobsResponse(msgspec.Struct):
    queue_depth: Annotated[
        dict[str, int | None], msgspec.Meta(description="Jobs waiting per queue (null: the queue is out of reach).")
    ]
    failed_jobs: Annotated[int | None, msgspec.Meta(description="Jobs that failed for good and are kept.")]
    outbox_backlog: Annotated[int, msgspec.Meta(description="Jobs committed but not yet handed to the queue.")]
    outbox_oldest_age_seconds: float


class SystemStatusResponse(msgspec.Struct):
    version: str
    checked_at: datetime
    instances_shared: Annotated[
        bool, msgspec.Meta(description="True with Redis: every live instance is listed; else only this one.")
    ]
    instances: list[InstanceResponse]
    database: DependencyResponse
    redis: DependencyResponse
    jobs: JobsResponse
    breakers: Annotated[
        dict[str, str],
        msgspec.Meta(description="Each circuit breaker (`llm:<provider>`, `redis`): its worst state across instances."),
    ]
    open_websockets: Annotated[int, msgspec.Meta(description="Across instances.")]
    streaming_replies: Annotated[int, msgspec.Meta(description="Replies being generated, across instances.")]
    recent_requests: int
    recent_server_errors: int
    recent_error_rate: Annotated[
        float, msgspec.Meta(description="5xx answers per HTTP request over the last five minutes, across instances.")
    ]

    @classmethod
    def of(cls, status: SystemStatus) -> SystemStatusResponse:
        jobs = status.jobs
        return cls(
            version=status.version,
            checked_at=status.checked_at,
            instances_shared=status.instances_shared,
            instances=[InstanceResponse.of(i) for i in status.instances],
            database=DependencyResponse.of(status.database),
            redis=DependencyResponse.of(status.redis),
            jobs=JobsResponse(
                queue_depth=dict(jobs.queue_depth),
                failed_jobs=jobs.failed_jobs,
                outbox_backlog=jobs.outbox_backlog,
                outbox_oldest_age_seconds=jobs.outbox_oldest_age_seconds,
            ),
            breakers=status.breakers,
            open_websockets=status.open_websockets,
            streaming_replies=status.streaming_replies,
            recent_requests=status.recent_requests,
            recent_server_errors=status.recent_server_errors,
            recent_error_rate=status.recent_error_rate,
        )


class AuditEventResponse(msgspec.Struct):
    id: uuid.UUID
    at: datetime
    actor_id: Annotated[uuid.UUID | None, msgspec.Meta(description="The user who acted; null: the CLI or nobody known")]
    actor_ip: Annotated[str | None, msgspec.Meta(description="The address the action came from")]
    action: Annotated[str, msgspec.Meta(description="`user.role_changed`, `api_key.created`, ... (docs/API.md)")]
    target_type: str
    target_id: str | None
    data: Annotated[dict[str, Any], msgspec.Meta(description="What changed; `via` says how the actor signed in")]

    @classmethod
    def of(cls, e: AuditEvent) -> AuditEventResponse:
        return cls(e.id, e.at, e.actor_id, e.actor_ip, e.action.value, e.target_type.value, e.target_id, dict(e.data))


class AuditPageResponse(msgspec.Struct):
    items: list[AuditEventResponse]
    limit: int
    next_before: Annotated[uuid.UUID | None, msgspec.Meta(description="Pass as `before` for the next, older page")]

    @classmethod
    def of(cls, page: AuditPage) -> AuditPageResponse:
        return cls([AuditEventResponse.of(e) for e in page.items], page.limit, page.next_before)


class ModerationItemResponse(msgspec.Struct):
    id: uuid.UUID
    kind: Annotated[str, msgspec.Meta(description="`message`, `reply`, `article`, `passage` or `tool_input`")]
    target_id: Annotated[uuid.UUID, msgspec.Meta(description="The message, article or source flagged")]
    user_id: Annotated[uuid.UUID | None, msgspec.Meta(description="Its author")]
    reasons: Annotated[
        list[str],
        msgspec.Meta(description="`moderation:<category>`, prompt-injection reasons, or `user_report`"),
    ]
    excerpt: str
    report_count: int
    status: Annotated[str, msgspec.Meta(description="`open` or `resolved`")]
    created_at: datetime
    resolution: Annotated[str | None, msgspec.Meta(description="`dismiss`, `hide` or `delete` once resolved")]
    resolved_at: datetime | None
    resolved_by: uuid.UUID | None
    resolution_note: str | None

    @classmethod
    def of(cls, i: ModerationItem) -> ModerationItemResponse:
        return cls(
            id=i.id,
            kind=i.kind.value,
            target_id=i.target_id,
            user_id=i.user_id,
            reasons=list(i.reasons),
            excerpt=i.excerpt,
            report_count=i.report_count,
            status=i.status.value,
            created_at=i.created_at,
            resolution=i.resolution.value if i.resolution else None,
            resolved_at=i.resolved_at,
            resolved_by=i.resolved_by,
            resolution_note=i.resolution_note,
        )


class ModerationPageResponse(msgspec.Struct):
    items: list[ModerationItemResponse]
    limit: int
    next_before: Annotated[uuid.UUID | None, msgspec.Meta(description="Pass as `before` for the next, older page")]

    @classmethod
    def of(cls, page: ModerationPage) -> ModerationPageResponse:
        return cls([ModerationItemResponse.of(i) for i in page.items], page.limit, page.next_before)


class ResolveRequest(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["dismiss", "hide", "delete"]
    note: Annotated[str, msgspec.Meta(max_length=MAX_RESOLUTION_NOTE)] | None = None


class ReportRequest(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["message", "article"]
    id: Annotated[uuid.UUID, msgspec.Meta(description="The message or article")]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REPORT_REASON)]


class ReportResponse(msgspec.Struct):
    id: uuid.UUID
    kind: str
    target_id: uuid.UUID
    created_at: datetime

    @classmethod
    def of(cls, view: ReportView) -> ReportResponse:
        return cls(view.id, view.kind.value, view.target_id, view.created_at)
