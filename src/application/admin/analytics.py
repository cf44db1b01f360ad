"""Analytics for staff: usage by day, user, model, provider or API key; sign-ups and active users;
articles; top spenders. Read-only; every use case needs ``analytics:read`` (a permission, never a
role: an admin has it, and so may a read-only staff role)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from src.application.admin.ports import AnalyticsReader, ContentAnalytics, Spender, UsageAnalytics, UserActivityDay
from src.application.shared.ports import Clock
from src.domain.admin.analytics import (
    DayRange,
    Period,
    TopBy,
    UsageGroupBy,
    checked_limit,
    day_range,
    parse_choice,
    period_range,
)
from src.domain.identity.model import Permission, Principal
from src.domain.shared.errors import PermissionDenied

#: Tags listed by the content analytics.
TOP_TAGS = 10


def require_analytics(principal: Principal) -> None:
    if not principal.can(Permission.ANALYTICS_READ):
        raise PermissionDenied(f"This needs the {Permission.ANALYTICS_READ.value} permission")


@dataclass(frozen=True, slots=True)
class UsageAnalyticsQuery:
    principal: Principal
    start: date | None = None
    end: date | None = None
    group_by: str = "day"
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class RangeQuery:
    principal: Principal
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True, slots=True)
class TopSpendersQuery:
    principal: Principal
    by: str = "cost"
    period: str = "month"
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class UserAnalytics:
    days: DayRange
    items: list[UserActivityDay]


@dataclass(frozen=True, slots=True)
class TopSpenders:
    by: TopBy
    period: Period
    days: DayRange
    items: list[Spender]


class _AnalyticsUseCase:
    def __init__(self, reader: AnalyticsReader, clock: Clock) -> None:
        self._reader = reader
        self._clock = clock

    def _range(self, principal: Principal, start: date | None, end: date | None) -> DayRange:
        require_analytics(principal)
        return day_range(start, end, today=self._clock.now().date())


class GetUsageAnalytics(_AnalyticsUseCase):
    async def __call__(self, query: UsageAnalyticsQuery) -> UsageAnalytics:
        days = self._range(query.principal, query.start, query.end)
        group_by = parse_choice(UsageGroupBy, query.group_by, "group_by")
        return await self._reader.usage(days, group_by, limit=checked_limit(query.limit))


class GetUserAnalytics(_AnalyticsUseCase):
    async def __call__(self, query: RangeQuery) -> UserAnalytics:
        days = self._range(query.principal, query.start, query.end)
        return UserAnalytics(days=days, items=await self._reader.user_activity(days))


class GetContentAnalytics(_AnalyticsUseCase):
    async def __call__(self, query: RangeQuery) -> ContentAnalytics:
        days = self._range(query.principal, query.start, query.end)
        return await self._reader.content(days, top_tags=TOP_TAGS)


class GetTopSpenders(_AnalyticsUseCase):
    async def __call__(self, query: TopSpendersQuery) -> TopSpenders:
        require_analytics(query.principal)
        by = parse_choice(TopBy, query.by, "by")
        period = parse_choice(Period, query.period, "period")
        limit = checked_limit(query.limit if query.limit is not None else 10)
        days = period_range(period, now=self._clock.now())
        items = await self._reader.top_spenders(days, by, limit=limit, whole_month=period is Period.MONTH)
        return TopSpenders(by=by, period=period, days=days, items=items)
