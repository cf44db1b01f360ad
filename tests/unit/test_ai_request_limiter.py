"""AiRequestLimiter.counts: whether a check would count the caller at all (a send counts such callers
beside its read; everyone else costs nothing)."""

from __future__ import annotations

import pytest

from src.application.usage.ai_requests import AiRequestLimiter
from src.domain.chat.errors import AiRequestsRateLimited
from src.domain.identity.model import Role, Tier
from src.domain.shared.rate_limit import RateLimitPolicy
from src.infrastructure.rate_limit.memory_limiter import MemoryRateLimiter
from tests.unit.chat.conftest import principal

FREE = RateLimitPolicy("ai_free", limit=2, window_seconds=60)


async def test_who_is_counted() -> None:
    limiter = AiRequestLimiter(MemoryRateLimiter(), {Tier.FREE: FREE})
    member, admin, pro = principal(), principal(role=Role.ADMIN), principal(tier=Tier.PRO)
    assert limiter.counts(member)
    assert not limiter.counts(admin)  # exempt
    assert not limiter.counts(pro)  # no policy for the tier
    assert not AiRequestLimiter(None, {Tier.FREE: FREE}).counts(member)  # limits off
    assert AiRequestLimiter(MemoryRateLimiter(), {Tier.FREE: FREE}, exempt_permission_holders=False).counts(admin)
    # Those not counted are never refused; those counted are, past the limit.
    for _ in range(5):
        await limiter.check(admin)
        await limiter.check(pro)
    await limiter.check(member)
    await limiter.check(member)
    with pytest.raises(AiRequestsRateLimited):
        await limiter.check(member)
