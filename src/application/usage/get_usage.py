"""GetUsage: the caller's token and cost totals by day or by model, and where they stand this month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.application.usage.budget import budget_status_of
from src.application.usage.ports import UsageBucket, UsageGrouping, UsageTransaction
from src.application.usage.views import UsageReport
from src.domain.identity.model import Principal
from src.domain.usage.errors import InvalidUsageQuery
from src.domain.usage.model import TierBudgets, month_start

MAX_RANGE_DAYS = 366
GROUPINGS: tuple[UsageGrouping, ...] = ("day", "model", "api_key")


@dataclass(frozen=True, slots=True)
class GetUsageQuery:
    #: First day included (UTC); the first day of this month when left out.
    start: date | None = None
    #: Last day included (UTC); today when left out.
    end: date | None = None
    group_by: str = "day"


class GetUsage:
    def __init__(self, uow: UnitOfWorkFactory[UsageTransaction], budgets: TierBudgets, clock: Clock) -> None:
        self._uow = uow
        self._budgets = budgets
        self._clock = clock

    async def __call__(self, principal: Principal, query: GetUsageQuery) -> UsageReport:
        now = self._clock.now()
        if query.group_by not in GROUPINGS:
            raise InvalidUsageQuery(f"group_by must be one of {', '.join(GROUPINGS)}")
        group_by = next(g for g in GROUPINGS if g == query.group_by)
        end = query.end or now.date()
        start = query.start or month_start(now).date()
        if start > end:
            raise InvalidUsageQuery("from must not be after to")
        if end - start > timedelta(days=MAX_RANGE_DAYS):
            raise InvalidUsageQuery(f"at most {MAX_RANGE_DAYS} days at once")
        async with self._uow(read_only=True) as tx:
            items = await tx.usage.summarize(principal.user_id, start=start, end=end, group_by=group_by)
            budget = await budget_status_of(tx, principal, self._budgets, now)
        totals = UsageBucket(
            key="total",
            requests=sum(i.requests for i in items),
            input_tokens=sum(i.input_tokens for i in items),
            output_tokens=sum(i.output_tokens for i in items),
            cached_tokens=sum(i.cached_tokens for i in items),
            reasoning_tokens=sum(i.reasoning_tokens for i in items),
            cost_micros=sum(i.cost_micros for i in items),
        )
        return UsageReport(start=start, end=end, group_by=group_by, items=items, totals=totals, budget=budget)
