"""Usage and budgets: what each model call cost, per user, and how much a user may spend a month.

Money is integer micro-dollars ($1 = 1_000_000). Budget periods are calendar months in UTC.
"""

from __future__ import annotations

import enum
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from src.domain.identity.model import Tier
from src.domain.llm.model import Usage
from src.domain.usage.errors import BudgetExceeded, InvalidBudget

MICROS_PER_DOLLAR = 1_000_000
#: Larger budgets are surely typos ($1,000,000 a month).
MAX_BUDGET_MICROS = 1_000_000 * MICROS_PER_DOLLAR


class UsageKind(enum.StrEnum):
    REPLY = "reply"
    TITLE = "title"
    SUMMARY = "summary"
    #: A call through the OpenAI-compatible gateway (``/v1/chat/completions``).
    COMPLETION = "completion"
    #: An AI tool (summarize, classify, moderate, generate: src/application/ai/tools.py).
    AI_TOOL = "ai_tool"


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One model call paid for by a user. Kept when its conversation is deleted: it was spent."""

    id: uuid.UUID
    user_id: uuid.UUID
    kind: UsageKind
    model: str
    provider: str
    usage: Usage
    cost_micros: int
    created_at: datetime
    conversation_id: uuid.UUID | None = None
    message_id: uuid.UUID | None = None
    #: The API key the call was made with (``None``: an access token, or Parley itself).
    api_key_id: uuid.UUID | None = None
    #: From the request to the last token, retries and fallbacks included (``None``: not measured).
    latency_ms: int | None = None
    #: From the request to the first token (``None``: no text came, or not measured).
    ttft_ms: int | None = None
    #: Why the call ended in error (``None``: it did not); what was generated is still charged.
    error_code: str | None = None
    #: Answered by a fallback model rather than the one asked for.
    fallback: bool = False

    @property
    def day(self) -> date:
        return self.created_at.astimezone(UTC).date()


def month_start(moment: datetime) -> datetime:
    """The first instant of ``moment``'s calendar month, UTC."""
    utc = moment.astimezone(UTC)
    return datetime(utc.year, utc.month, 1, tzinfo=UTC)


def next_month_start(moment: datetime) -> datetime:
    start = month_start(moment)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def dollars_to_micros(amount: str | int | float | Decimal) -> int:
    """``"12.50"`` -> 12_500_000, exactly (no float rounding); refuses negatives, NaN and absurd sums."""
    try:
        dollars = Decimal(str(amount).strip())
    except InvalidOperation:
        raise InvalidBudget(f"{amount!r} is not an amount in dollars") from None
    if not dollars.is_finite() or dollars < 0:
        raise InvalidBudget("a budget is zero or more dollars")
    micros = int((dollars * MICROS_PER_DOLLAR).to_integral_value())
    if micros > MAX_BUDGET_MICROS:
        raise InvalidBudget(f"a budget is at most ${MAX_BUDGET_MICROS // MICROS_PER_DOLLAR:,} a month")
    return micros


def micros_to_dollars(micros: int) -> str:
    """12_500_000 -> ``"12.50"``; sub-cent amounts keep their digits (``"0.000125"``)."""
    text = f"{Decimal(micros) / MICROS_PER_DOLLAR:f}"
    if "." in text:
        whole, fraction = text.split(".")
        fraction = fraction.rstrip("0").ljust(2, "0")
        return f"{whole}.{fraction}"
    return f"{text}.00"


@dataclass(frozen=True, slots=True)
class TierBudgets:
    """The monthly budget of each tier (``BUDGET_FREE_MONTHLY_USD``, ``BUDGET_PRO_MONTHLY_USD``)."""

    free_micros: int
    pro_micros: int

    def for_tier(self, tier: Tier) -> int:
        return self.pro_micros if tier is Tier.PRO else self.free_micros


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Where a user stands this month."""

    budget_micros: int
    spent_micros: int
    #: Whether the budget is the user's own (set by an admin) rather than their tier's.
    custom: bool
    period_start: datetime
    resets_at: datetime

    @property
    def remaining_micros(self) -> int:
        return max(0, self.budget_micros - self.spent_micros)

    @property
    def exceeded(self) -> bool:
        """No new call may start once the spending reached the budget (a $0 budget allows none)."""
        return self.spent_micros >= self.budget_micros

    def ensure_not_exceeded(self, now: datetime) -> None:
        if self.exceeded:
            raise BudgetExceeded(
                f"you spent ${micros_to_dollars(self.spent_micros)} of your "
                f"${micros_to_dollars(self.budget_micros)} monthly budget; it renews on "
                f"{self.resets_at.date().isoformat()}",
                extra={
                    "budget_micros": self.budget_micros,
                    "spent_micros": self.spent_micros,
                    "resets_at": self.resets_at.isoformat(),
                    "retry_after": max(1, math.ceil((self.resets_at - now).total_seconds())),
                },
            )


def budget_status(
    *, tier: Tier, custom_micros: int | None, spent_micros: int, budgets: TierBudgets, now: datetime
) -> BudgetStatus:
    return BudgetStatus(
        budget_micros=custom_micros if custom_micros is not None else budgets.for_tier(tier),
        spent_micros=spent_micros,
        custom=custom_micros is not None,
        period_start=month_start(now),
        resets_at=next_month_start(now),
    )
