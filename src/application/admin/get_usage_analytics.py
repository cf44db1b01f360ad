"""GetUsageAnalytics: usage by day, user, model, provider or API key (analytics:read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from src.application.admin.analytics import AnalyticsUseCase
from src.application.admin.ports import UsageAnalytics
from src.domain.admin.analytics import (
    UsageGroupBy,
    checked_limit,
    parse_choice,
)
from src.domain.identity.model import Principal


class GetUsageAnalytics(AnalyticsUseCase):
    async def __call__(self, principal: Principal, query: GetUsageAnalyticsQuery) -> UsageAnalytics:
        days = self._range(principal, query.start, query.end)
        group_by = parse_choice(UsageGroupBy, query.group_by, "group_by")
        return await self._reader.usage(days, group_by, limit=checked_limit(query.limit))


@dataclass(frozen=True, slots=True)
class GetUsageAnalyticsQuery:
    start: date | None = None
    end: date | None = None
    group_by: str = "day"
    limit: int | None = None
