"""Usage: the monthly budget of each tier, in US dollars."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from src.infrastructure.settings.reading import Reader, default_of, dollars, manual, variable_of

MAX_MONTHLY_BUDGET_USD = 1_000_000


@dataclass(frozen=True, slots=True)
class UsageSettings:
    budget_free_monthly_usd: Decimal = manual("BUDGET_FREE_MONTHLY_USD", Decimal("5"))
    budget_pro_monthly_usd: Decimal = manual("BUDGET_PRO_MONTHLY_USD", Decimal("50"))


def load_usage(env: Reader) -> UsageSettings:
    """Every budget, as an amount of dollars from 0 to ``MAX_MONTHLY_BUDGET_USD``."""
    budgets: dict[str, Decimal] = {}
    for setting in fields(UsageSettings):
        spec = variable_of(setting)
        assert spec is not None  # every field is a budget variable
        budgets[setting.name] = dollars(
            env, spec.name, default_of(UsageSettings, setting.name), maximum=MAX_MONTHLY_BUDGET_USD
        )
    return UsageSettings(**budgets)
