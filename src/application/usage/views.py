"""What the usage use cases return."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from src.application.usage.ports import UsageBucket, UsageGrouping
from src.domain.usage.model import BudgetStatus


@dataclass(frozen=True, slots=True)
class UsageReport:
    start: date
    end: date
    group_by: UsageGrouping
    items: list[UsageBucket]
    totals: UsageBucket
    #: This month's budget and spending (whatever range was asked for).
    budget: BudgetStatus


@dataclass(frozen=True, slots=True)
class UserBudgetView:
    user_id: uuid.UUID
    status: BudgetStatus
