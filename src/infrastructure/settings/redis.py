"""Redis (``REDIS_URL``; unset: in-process caches, rate limits and jobs), its breaker, and the cache."""

from __future__ import annotations

from dataclasses import dataclass

from src.infrastructure.redis_sentinel import SENTINEL_SCHEMES, SentinelUrlError, is_sentinel_url, parse_sentinel_url
from src.infrastructure.settings.reading import ConfigError, Reader, manual, read_group, var


@dataclass(frozen=True, slots=True)
class RedisSettings:
    #: One server (redis://, rediss://, unix://) or a Sentinel-watched service.
    url: str | None = manual("REDIS_URL", None)
    timeout: float = var("REDIS_TIMEOUT", 0.5, minimum=0.01)
    breaker_failures: int = var("REDIS_BREAKER_FAILURES", 3, minimum=1)
    breaker_reset_seconds: float = var("REDIS_BREAKER_RESET_SECONDS", 5.0, minimum=0.1)
    #: Seconds a cached value lives when its route or cache names no TTL (in Redis or in memory).
    cache_default_ttl: int = var("CACHE_DEFAULT_TTL", 60, minimum=1)


def load_redis(env: Reader) -> RedisSettings:
    return read_group(RedisSettings, env, url=_redis_url(env))


def _redis_url(env: Reader) -> str | None:
    value = env.raw("REDIS_URL")
    if value is not None and is_sentinel_url(value):
        try:
            parse_sentinel_url(value)
        except SentinelUrlError as exc:
            raise ConfigError("REDIS_URL", str(exc)) from None
        return value
    return env.url("REDIS_URL", schemes=("redis", "rediss", "unix", *SENTINEL_SCHEMES), default=None)
