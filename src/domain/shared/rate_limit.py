"""Rate limiting as the domain sees it: named policies and the decision for one request."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """At most ``limit`` requests per ``window_seconds`` for one key (an IP, a user, ...)."""

    name: str
    limit: int
    window_seconds: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_seconds <= 0:
            raise ValueError("a rate-limit policy needs a positive limit and window")


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    #: Seconds until the limiter is back to its full allowance.
    reset_after: float
    #: Seconds to wait before a retry can succeed (0 when allowed).
    retry_after: float

    @property
    def retry_after_header(self) -> int:
        """Whole seconds, rounded up, never 0 for a rejection (RFC 9110 Retry-After)."""
        return max(1, math.ceil(self.retry_after)) if not self.allowed else 0
