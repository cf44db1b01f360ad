"""The budget check every AI request passes before any model is called."""

from __future__ import annotations

from datetime import datetime

from src.application.shared.ports import UnitOfWork
from src.domain.identity.model import Principal
from src.domain.usage.model import BudgetStatus, TierBudgets, budget_status, month_start


async def budget_status_of(tx: UnitOfWork, principal: Principal, budgets: TierBudgets, now: datetime) -> BudgetStatus:
    """O(1): the user's own budget (if an admin set one) and this month's running total."""
    custom = await tx.budgets.get(principal.user_id)
    spent = await tx.usage.spent_in_month(principal.user_id, month_start(now))
    return budget_status(tier=principal.tier, custom_micros=custom, spent_micros=spent, budgets=budgets, now=now)


async def ensure_within_budget(tx: UnitOfWork, principal: Principal, budgets: TierBudgets, now: datetime) -> None:
    """Raise ``budget_exceeded`` when the month's spending reached the budget."""
    status = await budget_status_of(tx, principal, budgets, now)
    status.ensure_not_exceeded(now)
