"""Usage errors."""

from __future__ import annotations

from src.domain.shared.errors import DomainError, InvalidInput


class BudgetExceeded(DomainError):
    """The user's spending this month reached their budget. ``extra`` says how much, and
    ``retry_after`` (seconds) when the budget renews at the start of next month."""

    code = "budget_exceeded"
    kind = "rate_limited"
    title = "Monthly budget exceeded"


class InvalidBudget(InvalidInput):
    code = "invalid_budget"
    title = "Invalid budget"


class InvalidUsageQuery(InvalidInput):
    code = "invalid_usage_query"
    title = "Invalid usage query"
