"""AI requests per user per minute, by tier: checked inside the use cases, so the REST routes, the
WebSocket and the CLI share one allowance (the HTTP rate-limit middleware covers HTTP only)."""

from __future__ import annotations

from collections.abc import Mapping

from src.application.shared.ports import RateLimiter
from src.domain.chat.errors import AiRequestsRateLimited
from src.domain.identity.model import Permission, Principal, Tier
from src.domain.shared.rate_limit import RateLimitPolicy


class AiRequestLimiter:
    def __init__(
        self,
        limiter: RateLimiter | None,
        policies: Mapping[Tier, RateLimitPolicy],
        *,
        exempt_permission_holders: bool = True,
    ) -> None:
        """``limiter`` ``None`` turns the limit off (``RATE_LIMIT_ENABLED=false``)."""
        self._limiter = limiter
        self._policies = dict(policies)
        self._exempt = exempt_permission_holders

    def counts(self, principal: Principal) -> bool:
        """Whether ``check`` counts the caller's requests (a round trip to the limiter's store) at all."""
        return self._policy(principal) is not None

    def _policy(self, principal: Principal) -> RateLimitPolicy | None:
        if self._limiter is None or (self._exempt and principal.can(Permission.RATE_LIMIT_EXEMPT)):
            return None
        return self._policies.get(principal.tier)

    async def check(self, principal: Principal) -> None:
        """Count one AI request for the caller; raise ``rate_limited`` (with ``retry_after``) past the limit."""
        policy = self._policy(principal)
        if policy is None or self._limiter is None:
            return
        # The same key the HTTP middleware would use for this named policy and user.
        decision = await self._limiter.hit(
            f"{policy.name}:user:{principal.user_id}", policy.limit, policy.window_seconds
        )
        if not decision.allowed:
            retry_after = decision.retry_after_header
            raise AiRequestsRateLimited(
                f"More than {policy.limit} AI requests a minute on the {principal.tier.value} tier; "
                f"try again in {retry_after} s",
                extra={"retry_after": retry_after, "limit": policy.limit},
            )
