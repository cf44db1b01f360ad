"""Spending events: a charge was recorded, and a monthly budget threshold was crossed."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from src.domain.shared.events import DomainEvent

#: The shares of a monthly budget at which the user hears about it, once each per month.
BUDGET_THRESHOLDS: tuple[int, ...] = (80, 100)


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageCharged(DomainEvent):
    """A model call was charged to ``user_id`` (a reply, a summary)."""

    user_id: UUID
    cost_micros: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetThresholdReached(DomainEvent):
    user_id: UUID
    percent: int
    #: The month, ``YYYY-MM`` (UTC).
    period: str
    spent_micros: int
    budget_micros: int


def thresholds_reached(*, spent_micros: int, budget_micros: int) -> list[int]:
    """The thresholds (percent) that ``spent_micros`` has reached of ``budget_micros``.

    A budget of zero allows nothing: it is not "reached" by spending nothing, so it reports none.
    """
    if budget_micros <= 0:
        return []
    return [p for p in BUDGET_THRESHOLDS if spent_micros * 100 >= budget_micros * p]


def alert_floor(budget_micros: int) -> int | None:
    """The least spending of the month from which ``thresholds_reached`` reports a threshold of
    ``budget_micros`` (the lowest one); ``None`` when no spending does (a budget of zero)."""
    if budget_micros <= 0:
        return None
    return -(-budget_micros * min(BUDGET_THRESHOLDS) // 100)  # spent * 100 >= budget * p, in integers
