"""Every rate-limit policy Parley applies, built from settings in this one place.

``anonymous`` and ``user`` apply to every API route by default (per client IP and per signed-in
user). The stricter named policies are attached to routes with ``opt={"rate_limit": "<name>"}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from src.domain.shared.rate_limit import RateLimitPolicy
from src.infrastructure.settings import Settings

ANONYMOUS = "anonymous"
USER = "user"
LOGIN = "login"
REGISTER = "register"
AI_FREE = "ai_free"
AI_PRO = "ai_pro"

MINUTE = 60.0
HOUR = 3600.0

#: The named policies that are not configurable: brute-force and abuse guards, and AI calls by tier.
FIXED_POLICIES: tuple[RateLimitPolicy, ...] = (
    RateLimitPolicy(LOGIN, limit=5, window_seconds=15 * MINUTE),
    RateLimitPolicy(REGISTER, limit=5, window_seconds=HOUR),
    RateLimitPolicy(AI_FREE, limit=20, window_seconds=MINUTE),
    RateLimitPolicy(AI_PRO, limit=120, window_seconds=MINUTE),
)


@dataclass(frozen=True, slots=True)
class RateLimitPolicies:
    """The policies by name; ``anonymous`` and ``user`` are always there."""

    by_name: Mapping[str, RateLimitPolicy]

    def __post_init__(self) -> None:
        missing = {ANONYMOUS, USER} - set(self.by_name)
        if missing:
            raise ValueError(f"rate-limit policies {sorted(missing)} are required")
        for name, policy in self.by_name.items():
            if name != policy.name:
                raise ValueError(f"rate-limit policy {policy.name!r} is registered as {name!r}")
        object.__setattr__(self, "by_name", MappingProxyType(dict(self.by_name)))

    @property
    def anonymous(self) -> RateLimitPolicy:
        return self.by_name[ANONYMOUS]

    @property
    def user(self) -> RateLimitPolicy:
        return self.by_name[USER]

    def __getitem__(self, name: str) -> RateLimitPolicy:
        return self.by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __iter__(self) -> Iterator[RateLimitPolicy]:
        return iter(self.by_name.values())

    def with_policy(self, policy: RateLimitPolicy) -> RateLimitPolicies:
        """A copy with ``policy`` added (or replacing the one of the same name)."""
        return RateLimitPolicies({**self.by_name, policy.name: policy})


def build_policies(settings: Settings) -> RateLimitPolicies:
    configurable = (
        RateLimitPolicy(ANONYMOUS, limit=settings.rate_limits.anon_per_minute, window_seconds=MINUTE),
        RateLimitPolicy(USER, limit=settings.rate_limits.user_per_minute, window_seconds=MINUTE),
    )
    return RateLimitPolicies({p.name: p for p in (*configurable, *FIXED_POLICIES)})
