"""What the analytics use cases share (``get_usage_analytics``, ``get_user_analytics``,
``get_content_analytics``, ``get_top_spenders``): usage by day, user, model, provider or API key;
sign-ups and active users; articles; top spenders. Read-only; every use case needs
``analytics:read`` (a permission, never a role: an admin has it, and so may a read-only staff role)."""

from __future__ import annotations

from datetime import date

from src.application.admin.ports import AnalyticsReader
from src.application.shared.ports import Clock
from src.domain.admin.analytics import (
    DayRange,
    day_range,
)
from src.domain.identity.model import Permission, Principal
from src.domain.shared.errors import PermissionDenied

#: Tags listed by the content analytics.
TOP_TAGS = 10


def require_analytics(principal: Principal) -> None:
    if not principal.can(Permission.ANALYTICS_READ):
        raise PermissionDenied(f"This needs the {Permission.ANALYTICS_READ.value} permission")


class AnalyticsUseCase:
    def __init__(self, reader: AnalyticsReader, clock: Clock) -> None:
        self._reader = reader
        self._clock = clock

    def _range(self, principal: Principal, start: date | None, end: date | None) -> DayRange:
        require_analytics(principal)
        return day_range(start, end, today=self._clock.now().date())
