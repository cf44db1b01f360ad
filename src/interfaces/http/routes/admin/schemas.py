"""Bodies of the admin analytics and system status routes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec

from src.application.admin.analytics import TopSpenders, UserAnalytics
from src.application.admin.ports import ContentAnalytics, DependencyLatency, UsageAnalytics
from src.application.admin.system_status import InstanceStatus, SystemStatus
from src.domain.admin.analytics import UsageStats
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
