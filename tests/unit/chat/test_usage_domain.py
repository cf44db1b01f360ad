"""Money, months and budgets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from src.domain.identity.model import Tier
from src.domain.usage.errors import BudgetExceeded, InvalidBudget
from src.domain.usage.model import (
    TierBudgets,
    budget_status,
    dollars_to_micros,
    micros_to_dollars,
    month_start,
    next_month_start,
)

NOW = datetime(2026, 12, 20, 10, 30, tzinfo=UTC)
BUDGETS = TierBudgets(free_micros=5_000_000, pro_micros=50_000_000)


@pytest.mark.parametrize(
    ("amount", "micros"), [("12.50", 12_500_000), ("0", 0), (3, 3_000_000), ("0.000001", 1), (" 7 ", 7_000_000)]
)
def test_dollars_become_exact_micro_dollars(amount: object, micros: int) -> None:
    assert dollars_to_micros(amount) == micros  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["-1", "abc", "NaN", "Infinity", "1000000.01"])
def test_bad_amounts_are_refused(bad: str) -> None:
    with pytest.raises(InvalidBudget):
        dollars_to_micros(bad)


@pytest.mark.parametrize(
    ("micros", "text"), [(12_500_000, "12.50"), (0, "0.00"), (125, "0.000125"), (5_000_000, "5.00")]
)
def test_micro_dollars_read_as_dollars(micros: int, text: str) -> None:
    assert micros_to_dollars(micros) == text


def test_months_are_utc_calendar_months_and_december_rolls_over() -> None:
    assert month_start(NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    assert next_month_start(NOW) == datetime(2027, 1, 1, tzinfo=UTC)
    # 23:30 on 31 January in UTC-5 is already February in UTC.
    late = datetime(2026, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert month_start(late) == datetime(2026, 2, 1, tzinfo=UTC)


def test_the_tier_budget_applies_unless_the_user_has_their_own() -> None:
    tiered = budget_status(tier=Tier.PRO, custom_micros=None, spent_micros=1, budgets=BUDGETS, now=NOW)
    assert (tiered.budget_micros, tiered.custom, tiered.remaining_micros) == (50_000_000, False, 49_999_999)
    own = budget_status(tier=Tier.PRO, custom_micros=2_000_000, spent_micros=1, budgets=BUDGETS, now=NOW)
    assert (own.budget_micros, own.custom) == (2_000_000, True)


def test_spending_that_reached_the_budget_refuses_until_next_month() -> None:
    under = budget_status(tier=Tier.FREE, custom_micros=None, spent_micros=4_999_999, budgets=BUDGETS, now=NOW)
    under.ensure_not_exceeded(NOW)
    reached = budget_status(tier=Tier.FREE, custom_micros=None, spent_micros=5_000_000, budgets=BUDGETS, now=NOW)
    with pytest.raises(BudgetExceeded) as caught:
        reached.ensure_not_exceeded(NOW)
    assert caught.value.code == "budget_exceeded"
    assert caught.value.extra["resets_at"] == "2027-01-01T00:00:00+00:00"
    assert caught.value.extra["retry_after"] == int((datetime(2027, 1, 1, tzinfo=UTC) - NOW).total_seconds())


def test_a_zero_budget_allows_nothing() -> None:
    zero = budget_status(tier=Tier.FREE, custom_micros=0, spent_micros=0, budgets=BUDGETS, now=NOW)
    assert zero.exceeded
