"""Bodies of the usage and budget routes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec

from src.application.usage.ports import UsageBucket
from src.application.usage.views import UsageReport, UserBudgetView
from src.domain.usage.model import BudgetStatus, micros_to_dollars


class UsageBucketResponse(msgspec.Struct):
    key: Annotated[str, msgspec.Meta(description="The day (`YYYY-MM-DD`, UTC) or the model (`provider/model`).")]
    requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost_micros: int

    @classmethod
    def of(cls, bucket: UsageBucket) -> UsageBucketResponse:
        return cls(
            key=bucket.key,
            requests=bucket.requests,
            input_tokens=bucket.input_tokens,
            output_tokens=bucket.output_tokens,
            cached_tokens=bucket.cached_tokens,
            reasoning_tokens=bucket.reasoning_tokens,
            cost_micros=bucket.cost_micros,
        )


class BudgetResponse(msgspec.Struct):
    monthly_budget_micros: int
    monthly_budget_usd: Annotated[str, msgspec.Meta(description="The same in dollars, e.g. `5.00`.")]
    spent_micros: Annotated[int, msgspec.Meta(description="Spent this calendar month (UTC).")]
    remaining_micros: int
    exceeded: Annotated[bool, msgspec.Meta(description="True once spending reached the budget: AI requests get 429.")]
    custom: Annotated[bool, msgspec.Meta(description="Set for this user by an admin (else the tier's budget).")]
    period_start: datetime
    resets_at: datetime

    @classmethod
    def of(cls, status: BudgetStatus) -> BudgetResponse:
        return cls(
            monthly_budget_micros=status.budget_micros,
            monthly_budget_usd=micros_to_dollars(status.budget_micros),
            spent_micros=status.spent_micros,
            remaining_micros=status.remaining_micros,
            exceeded=status.exceeded,
            custom=status.custom,
            period_start=status.period_start,
            resets_at=status.resets_at,
        )


class UsageResponse(msgspec.Struct, rename={"from_": "from"}):
    from_: date
    to: date
    group_by: str
    items: list[UsageBucketResponse]
    totals: UsageBucketResponse
    budget: BudgetResponse

    @classmethod
    def of(cls, report: UsageReport) -> UsageResponse:
        return cls(
            from_=report.start,
            to=report.end,
            group_by=report.group_by,
            items=[UsageBucketResponse.of(b) for b in report.items],
            totals=UsageBucketResponse.of(report.totals),
            budget=BudgetResponse.of(report.budget),
        )


class SetBudgetRequest(msgspec.Struct, forbid_unknown_fields=True):
    monthly_usd: Annotated[
        str | float | None,
        msgspec.Meta(description='Dollars a month (`"12.50"` or 12.5; 0 allows nothing); null: the tier\'s budget.'),
    ]


class UserBudgetResponse(msgspec.Struct):
    user_id: uuid.UUID
    budget: BudgetResponse

    @classmethod
    def of(cls, view: UserBudgetView) -> UserBudgetResponse:
        return cls(user_id=view.user_id, budget=BudgetResponse.of(view.status))
