"""The budget check every AI request passes before any model is called."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from src.application.shared.events import DISPATCH_EVENT_JOB, encode_event
from src.application.shared.ids import new_id
from src.application.shared.ports import UnitOfWorkFactory
from src.application.usage.ports import BudgetReader, UsageTransaction
from src.domain.identity.model import Principal
from src.domain.shared.outbox import OutboxMessage
from src.domain.usage.events import UsageCharged, alert_floor
from src.domain.usage.model import BudgetStatus, TierBudgets, budget_status, month_start


async def budget_status_of(
    tx: UsageTransaction, principal: Principal, budgets: TierBudgets, now: datetime
) -> BudgetStatus:
    """O(1): the user's own budget (if an admin set one) and this month's running total."""
    custom, spent = await tx.budgets.standing(principal.user_id, month_start(now))
    return budget_status(tier=principal.tier, custom_micros=custom, spent_micros=spent, budgets=budgets, now=now)


async def ensure_within_budget(tx: UsageTransaction, principal: Principal, budgets: TierBudgets, now: datetime) -> None:
    """Raise ``budget_exceeded`` when the month's spending reached the budget."""
    status = await budget_status_of(tx, principal, budgets, now)
    status.ensure_not_exceeded(now)


async def check_budget(reader: BudgetReader, principal: Principal, budgets: TierBudgets, now: datetime) -> int:
    """``ensure_within_budget`` outside a unit of work, through ``reader`` (one statement on the
    database adapter): for calls that write nothing before the model answers (the gateway). The
    user's monthly budget in micro-dollars."""
    custom, spent = await reader.standing(principal.user_id, month_start(now))
    return within_budget(principal, budgets, custom_micros=custom, spent_micros=spent, now=now)


def within_budget(
    principal: Principal, budgets: TierBudgets, *, custom_micros: int | None, spent_micros: int, now: datetime
) -> int:
    """``ensure_within_budget`` on figures already read (the user's own budget, ``None`` for the tier's,
    and the month's spending): raise ``budget_exceeded``, or give the user's monthly budget."""
    status = budget_status(
        tier=principal.tier, custom_micros=custom_micros, spent_micros=spent_micros, budgets=budgets, now=now
    )
    status.ensure_not_exceeded(now)
    return status.budget_micros


class UnitOfWorkBudgetReader:
    """``BudgetReader`` through the repositories, in a read-only unit of work (what the adapters'
    one-statement reader does faster)."""

    def __init__(self, uow: UnitOfWorkFactory[UsageTransaction]) -> None:
        self._uow = uow

    async def standing(self, user_id: uuid.UUID, month_start: datetime) -> tuple[int | None, int]:
        async with self._uow(read_only=True) as tx:
            return await tx.budgets.standing(user_id, month_start)


@dataclass(frozen=True, slots=True)
class ChargeAlert:
    """The ``UsageCharged`` event a charge raises once the month's total, the charge included, is
    ``from_micros`` or more (a budget-alert threshold is reached): its outbox message, ready to store."""

    message: OutboxMessage
    from_micros: int


def charge_alert(
    *, user_id: uuid.UUID, cost_micros: int, budget_micros: int | None, now: datetime
) -> ChargeAlert | None:
    """When a charge of ``cost_micros`` raises ``UsageCharged`` (the budget-alert job follows from it): from
    which month's total, for ``budget_micros`` (``None``: unknown, from any), with the event's outbox
    message; ``None`` when it never does (a free call, a budget of zero). A charge stored by one statement
    stores the message in it, on that condition; ``record_charge_if_near_budget`` in a transaction."""
    if not cost_micros:
        return None
    floor = 0 if budget_micros is None else alert_floor(budget_micros)
    if floor is None:
        return None
    event = UsageCharged(event_id=new_id(now), occurred_at=now, user_id=user_id, cost_micros=cost_micros)
    return ChargeAlert(OutboxMessage.create(DISPATCH_EVENT_JOB, encode_event(event), id=new_id(now), now=now), floor)


async def record_charge_if_near_budget(
    tx: UsageTransaction,
    *,
    user_id: uuid.UUID,
    cost_micros: int,
    budget_micros: int | None,
    now: datetime,
    spent_micros: int | None = None,
) -> bool:
    """In the transaction that recorded a charge: raise ``UsageCharged`` (the budget-alert job follows from
    it) when the month's total, this charge included, has reached an alert threshold of ``budget_micros``
    (``None``: unknown, always raise; ``charge_alert``). Charges committed together serialise on the
    month's row, so the last of them sees the others' totals and a crossing is never missed; the handler
    claims each alert once. ``spent_micros``: the month's total, this charge included, when the caller has
    it already (``UsageRepository.record_and_total``); read otherwise. Whether an event was recorded."""
    alert = charge_alert(user_id=user_id, cost_micros=cost_micros, budget_micros=budget_micros, now=now)
    if alert is None:
        return False
    if alert.from_micros > 0:
        spent = spent_micros if spent_micros is not None else await tx.usage.spent_in_month(user_id, month_start(now))
        if spent < alert.from_micros:
            return False
    await tx.outbox.add(alert.message.job_name, alert.message.payload)
    return True
