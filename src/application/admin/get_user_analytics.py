"""GetUserAnalytics: sign-ups and active users per day (analytics:read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from src.application.admin.analytics import AnalyticsUseCase
from src.application.admin.ports import UserActivityDay
from src.domain.admin.analytics import (
    DayRange,
)
from src.domain.identity.model import Principal


class GetUserAnalytics(AnalyticsUseCase):
    async def __call__(self, principal: Principal, query: GetUserAnalyticsQuery) -> UserAnalytics:
        days = self._range(principal, query.start, query.end)
        return UserAnalytics(days=days, items=await self._reader.user_activity(days))


@dataclass(frozen=True, slots=True)
class GetUserAnalyticsQuery:
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True, slots=True)
class UserAnalytics:
    days: DayRange
    items: list[UserActivityDay]
