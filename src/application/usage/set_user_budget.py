"""SetUserBudget and GetUserBudget: an admin gives one user a monthly budget of their own (or takes
it away: the tier's applies again). Both require ``users:manage``."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Protocol

from src.application.admin.audit import record_audit
from src.application.admin.ports import AuditTransaction
from src.application.identity.ports import IdentityTransaction
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.application.usage.ports import UsageTransaction
from src.application.usage.views import UserBudgetView
from src.domain.admin.audit import AuditAction, AuditTarget
from src.domain.identity.errors import CannotChangeOwnAccess, Forbidden, UserNotFound
from src.domain.identity.model import Permission, Principal
from src.domain.usage.model import TierBudgets, budget_status, dollars_to_micros, month_start


class UserBudgetTransaction(UsageTransaction, IdentityTransaction, AuditTransaction, Protocol):
    """Usage's repositories, the user whose budget it is, and the audit log."""


def _require_manager(principal: Principal) -> None:
    if not principal.can(Permission.USERS_MANAGE):
        raise Forbidden()


class GetUserBudget:
    def __init__(self, uow: UnitOfWorkFactory[UserBudgetTransaction], budgets: TierBudgets, clock: Clock) -> None:
        self._uow = uow
        self._budgets = budgets
        self._clock = clock

    async def __call__(self, principal: Principal, user_id: uuid.UUID) -> UserBudgetView:
        _require_manager(principal)
        now = self._clock.now()
        async with self._uow(read_only=True) as tx:
            user = await tx.users.get(user_id)
            if user is None:
                raise UserNotFound()
            custom = await tx.budgets.get(user_id)
            spent = await tx.usage.spent_in_month(user_id, month_start(now))
        status = budget_status(tier=user.tier, custom_micros=custom, spent_micros=spent, budgets=self._budgets, now=now)
        return UserBudgetView(user_id=user_id, status=status)


class SetUserBudget:
    def __init__(self, uow: UnitOfWorkFactory[UserBudgetTransaction], budgets: TierBudgets, clock: Clock) -> None:
        self._uow = uow
        self._budgets = budgets
        self._clock = clock

    async def __call__(
        self, principal: Principal, user_id: uuid.UUID, monthly_usd: str | Decimal | None
    ) -> UserBudgetView:
        """``monthly_usd``: dollars a month (``"12.50"``; ``"0"`` allows nothing), or ``None`` for the tier's.
        Staff never set their own budget (the same rule as their own tier: ``CannotChangeOwnAccess``)."""
        _require_manager(principal)
        if user_id == principal.user_id:
            raise CannotChangeOwnAccess("another admin sets your budget")
        micros = dollars_to_micros(monthly_usd) if monthly_usd is not None else None
        now = self._clock.now()
        async with self._uow() as tx:
            user = await tx.users.get(user_id)
            if user is None:
                raise UserNotFound()
            before = await tx.budgets.get(user_id)
            await tx.budgets.set(user_id, micros, now=now)
            if before != micros:
                await record_audit(
                    tx,
                    principal,
                    AuditAction.USER_BUDGET_CHANGED,
                    AuditTarget.USER,
                    user_id,
                    now=now,
                    # None: the tier's budget applies.
                    data={"from_micros": before, "to_micros": micros},
                )
            spent = await tx.usage.spent_in_month(user_id, month_start(now))
        status = budget_status(tier=user.tier, custom_micros=micros, spent_micros=spent, budgets=self._budgets, now=now)
        return UserBudgetView(user_id=user_id, status=status)
