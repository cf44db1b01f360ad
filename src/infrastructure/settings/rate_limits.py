"""Request rate limits (the sign-in throttle is security and is always on)."""

from __future__ import annotations

from dataclasses import dataclass

from src.infrastructure.settings.reading import var


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    enabled: bool = var("RATE_LIMIT_ENABLED", True)
    anon_per_minute: int = var("RATE_LIMIT_ANON_PER_MINUTE", 60, minimum=1)
    user_per_minute: int = var("RATE_LIMIT_USER_PER_MINUTE", 120, minimum=1)
    exempt_admins: bool = var("RATE_LIMIT_EXEMPT_ADMINS", True)
