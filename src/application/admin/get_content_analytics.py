"""GetContentAnalytics: articles written and the most used tags (analytics:read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from src.application.admin.analytics import TOP_TAGS, AnalyticsUseCase
from src.application.admin.ports import ContentAnalytics
from src.domain.identity.model import Principal


@dataclass(frozen=True, slots=True)
class GetContentAnalyticsQuery:
    start: date | None = None
    end: date | None = None


class GetContentAnalytics(AnalyticsUseCase):
    async def __call__(self, principal: Principal, query: GetContentAnalyticsQuery) -> ContentAnalytics:
        days = self._range(principal, query.start, query.end)
        return await self._reader.content(days, top_tags=TOP_TAGS)
