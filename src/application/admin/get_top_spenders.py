"""GetTopSpenders: the users who spent the most (analytics:read)."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.admin.analytics import AnalyticsUseCase, require_analytics
from src.application.admin.ports import Spender
from src.domain.admin.analytics import (
    DayRange,
    Period,
    TopBy,
    checked_limit,
    parse_choice,
    period_range,
)
from src.domain.identity.model import Principal


class GetTopSpenders(AnalyticsUseCase):
    async def __call__(self, principal: Principal, query: GetTopSpendersQuery) -> TopSpenders:
        require_analytics(principal)
        by = parse_choice(TopBy, query.by, "by")
        period = parse_choice(Period, query.period, "period")
        limit = checked_limit(query.limit if query.limit is not None else 10)
        days = period_range(period, now=self._clock.now())
        items = await self._reader.top_spenders(days, by, limit=limit, whole_month=period is Period.MONTH)
        return TopSpenders(by=by, period=period, days=days, items=items)


@dataclass(frozen=True, slots=True)
class GetTopSpendersQuery:
    by: str = "cost"
    period: str = "month"
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class TopSpenders:
    by: TopBy
    period: Period
    days: DayRange
    items: list[Spender]
