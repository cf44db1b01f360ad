"""CheckBudgetThresholds: after each charge, raise ``BudgetThresholdReached`` at 80% and 100%.

Once each per user and month: the first charge that reaches a threshold claims it with a receipt
(``budget_threshold`` + user + month + percent, kept past the month's end) in the same transaction
as the event, so concurrent charges and redeliveries raise it once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from src.application.identity.ports import IdentityTransaction
from src.application.shared.events import record_event
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.application.usage.ports import UsageTransaction
from src.domain.shared.jobs import JobReceipt
from src.domain.usage.events import BudgetThresholdReached, UsageCharged, thresholds_reached
from src.domain.usage.model import TierBudgets, month_start


class BudgetAlertTransaction(UsageTransaction, IdentityTransaction, Protocol):
    """Usage's repositories and the users the alerts go to."""


BUDGET_THRESHOLD_RECEIPT = "budget_threshold"
#: Longer than any month, so that a claim outlives the month it is for.
RECEIPT_RETENTION = timedelta(days=40)


class CheckBudgetThresholds:
    def __init__(self, uow: UnitOfWorkFactory[BudgetAlertTransaction], budgets: TierBudgets, clock: Clock) -> None:
        self._uow = uow
        self._budgets = budgets
        self._clock = clock

    async def __call__(self, event: UsageCharged) -> list[int]:
        """The thresholds newly reached (each raised as an event)."""
        now = self._clock.now()
        period_start = month_start(event.occurred_at)
        period = f"{period_start:%Y-%m}"
        raised: list[int] = []
        async with self._uow() as tx:
            user = await tx.users.get(event.user_id)
            if user is None:
                return raised
            custom = await tx.budgets.get(event.user_id)
            budget = custom if custom is not None else self._budgets.for_tier(user.tier)
            spent = await tx.usage.spent_in_month(event.user_id, period_start)
            for percent in thresholds_reached(spent_micros=spent, budget_micros=budget):
                key = f"{event.user_id}:{period}:{percent}"
                receipt = JobReceipt.issue(BUDGET_THRESHOLD_RECEIPT, key, now=now, retention=RECEIPT_RETENTION)
                if not await tx.job_receipts.add(receipt):
                    continue
                await record_event(
                    tx,
                    BudgetThresholdReached(
                        event_id=new_id(now),
                        occurred_at=now,
                        user_id=event.user_id,
                        percent=percent,
                        period=period,
                        spent_micros=spent,
                        budget_micros=budget,
                    ),
                )
                raised.append(percent)
        return raised
