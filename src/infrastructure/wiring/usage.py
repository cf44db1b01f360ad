"""Wiring of the ``usage`` context: spending against the tiers' budgets, and the AI request allowance."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.shared.ports import Clock, RateLimiter
from src.application.unit_of_work import AppUnitOfWorkFactory
from src.application.usage.ai_requests import AiRequestLimiter
from src.application.usage.get_usage import GetUsage
from src.application.usage.get_user_budget import GetUserBudget
from src.application.usage.set_user_budget import SetUserBudget
from src.domain.identity.model import Tier
from src.domain.usage.model import TierBudgets
from src.infrastructure.rate_limit.policies import AI_FREE, AI_PRO, RateLimitPolicies
from src.infrastructure.settings import Settings


@dataclass(frozen=True, slots=True)
class UsageUseCases:
    get_usage: GetUsage
    get_user_budget: GetUserBudget
    set_user_budget: SetUserBudget


def build_ai_requests(settings: Settings, limiter: RateLimiter, policies: RateLimitPolicies) -> AiRequestLimiter:
    """One allowance of AI requests per user and minute, whatever asks: replies, summaries, tools."""
    return AiRequestLimiter(
        limiter if settings.rate_limits.enabled else None,
        {Tier.FREE: policies[AI_FREE], Tier.PRO: policies[AI_PRO]},
        exempt_permission_holders=settings.rate_limits.exempt_admins,
    )


def build_usage(*, uow: AppUnitOfWorkFactory, budgets: TierBudgets, clock: Clock) -> UsageUseCases:
    return UsageUseCases(
        get_usage=GetUsage(uow, budgets, clock),
        get_user_budget=GetUserBudget(uow, budgets, clock),
        set_user_budget=SetUserBudget(uow, budgets, clock),
    )
