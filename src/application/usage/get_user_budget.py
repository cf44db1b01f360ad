"""GetUserBudget: a user's monthly budget, their own or their tier's (users:manage)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.application.usage.user_budgets import UserBudgetTransaction, require_manager
from src.application.usage.views import UserBudgetView
from src.domain.identity.errors import UserNotFound
from src.domain.identity.model import Principal
from src.domain.usage.model import TierBudgets, budget_status, month_start


@dataclass(frozen=True, slots=True)
class GetUserBudgetQuery:
    user_id: uuid.UUID


class GetUserBudget:
    def __init__(self, uow: UnitOfWorkFactory[UserBudgetTransaction], budgets: TierBudgets, clock: Clock) -> None:
        self._uow = uow
        self._budgets = budgets
        self._clock = clock

    async def __call__(self, principal: Principal, query: GetUserBudgetQuery) -> UserBudgetView:
        require_manager(principal)
        now = self._clock.now()
        async with self._uow(read_only=True) as tx:
            user = await tx.users.get(query.user_id)
            if user is None:
                raise UserNotFound()
            custom = await tx.budgets.get(query.user_id)
            spent = await tx.usage.spent_in_month(query.user_id, month_start(now))
        status = budget_status(tier=user.tier, custom_micros=custom, spent_micros=spent, budgets=self._budgets, now=now)
        return UserBudgetView(user_id=query.user_id, status=status)
