"""SetUserBudget: an admin sets a user's own monthly budget, or gives them back their tier's (users:manage)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from src.application.admin.audit import record_audit
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.application.usage.user_budgets import UserBudgetTransaction, require_manager
from src.application.usage.views import UserBudgetView
from src.domain.admin.audit import AuditAction, AuditTarget
from src.domain.identity.errors import CannotChangeOwnAccess, UserNotFound
from src.domain.identity.model import Principal
from src.domain.usage.model import TierBudgets, budget_status, dollars_to_micros, month_start


@dataclass(frozen=True, slots=True)
class SetUserBudgetCommand:
    user_id: uuid.UUID
    monthly_usd: str | Decimal | None


class SetUserBudget:
    def __init__(self, uow: UnitOfWorkFactory[UserBudgetTransaction], budgets: TierBudgets, clock: Clock) -> None:
        self._uow = uow
        self._budgets = budgets
        self._clock = clock

    async def __call__(self, principal: Principal, command: SetUserBudgetCommand) -> UserBudgetView:
        """``monthly_usd``: dollars a month (``"12.50"``; ``"0"`` allows nothing), or ``None`` for the tier's.
        Staff never set their own budget (the same rule as their own tier: ``CannotChangeOwnAccess``)."""
        require_manager(principal)
        if command.user_id == principal.user_id:
            raise CannotChangeOwnAccess("another admin sets your budget")
        micros = dollars_to_micros(command.monthly_usd) if command.monthly_usd is not None else None
        now = self._clock.now()
        async with self._uow() as tx:
            user = await tx.users.get(command.user_id)
            if user is None:
                raise UserNotFound()
            before = await tx.budgets.get(command.user_id)
            await tx.budgets.set(command.user_id, micros, now=now)
            if before != micros:
                await record_audit(
                    tx,
                    principal,
                    AuditAction.USER_BUDGET_CHANGED,
                    AuditTarget.USER,
                    command.user_id,
                    now=now,
                    # None: the tier's budget applies.
                    data={"from_micros": before, "to_micros": micros},
                )
            spent = await tx.usage.spent_in_month(command.user_id, month_start(now))
        status = budget_status(tier=user.tier, custom_micros=micros, spent_micros=spent, budgets=self._budgets, now=now)
        return UserBudgetView(user_id=command.user_id, status=status)
