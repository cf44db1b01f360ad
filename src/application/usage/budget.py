"""The budget check every AI request passes before any model is called."""

from __future__ import annotations

import uuid
from datetime import datetime

from src.application.shared.ports import UnitOfWork, UnitOfWorkFactory
from src.application.usage.ports import BudgetReader
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


async def check_budget(reader: BudgetReader, principal: Principal, budgets: TierBudgets, now: datetime) -> None:
    """``ensure_within_budget`` outside a unit of work, through ``reader`` (one statement on the
    database adapter): for calls that write nothing before the model answers (the gateway)."""
    custom, spent = await reader.standing(principal.user_id, month_start(now))
    status = budget_status(tier=principal.tier, custom_micros=custom, spent_micros=spent, budgets=budgets, now=now)
    status.ensure_not_exceeded(now)


class UnitOfWorkBudgetReader:
    """``BudgetReader`` through the repositories, in a read-only unit of work (what the adapters'
    one-statement reader does faster)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def standing(self, user_id: uuid.UUID, month_start: datetime) -> tuple[int | None, int]:
        async with self._uow(read_only=True) as tx:
            return await tx.budgets.get(user_id), await tx.usage.spent_in_month(user_id, month_start)
