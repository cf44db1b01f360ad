"""Builders of the adapters several compositions share: the full container and the CLI's lazy one.

Each builder imports its technology when it is called, not when this module is imported: a
``parley`` command that never touches Redis (or a dictionary service) never loads its client.
Both compositions call these same builders, so a command answers exactly as the API would.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from src.infrastructure.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from src.application.chat.ports import UserEvents
    from src.application.identity.access_state import UserAccessStates
    from src.application.knowledge.dictionary import TopWordsDefinitions
    from src.application.shared.ports import Cache, CacheStats, Clock, RateLimiter
    from src.application.unit_of_work import AppUnitOfWorkFactory
    from src.domain.usage.model import TierBudgets
    from src.infrastructure.cache.near_cache import NearCache
    from src.infrastructure.external.dictionary import HttpDictionary, OfflineDictionary
    from src.infrastructure.external.paragraph_source import HttpParagraphSource, OfflineParagraphSource
    from src.infrastructure.realtime.pubsub import PubSubHub
    from src.infrastructure.resilience import CircuitBreaker

#: Redis connections per client and process; more concurrent calls wait briefly for one.
REDIS_MAX_CONNECTIONS = 100
#: How long an API process serves an access state from its own memory (near_cache.py). Changes
#: reach every process at once through pub/sub; this bounds only what a lost message could cost.
ACCESS_STATE_NEAR_TTL_SECONDS = 2.0


def redis_client(settings: Settings, *, blocking: bool = False) -> Redis:
    """A Redis client with short timeouts, so a slow or absent Redis never hangs a request.

    ``blocking`` clients (the SAQ worker's, which waits on the queue) keep a short connect timeout
    but no read timeout. A command that meets a dead socket (Redis restarted since the connection
    was pooled) is retried once on a fresh connection, and idle connections are PINGed before reuse
    (see ``redis_resilience``), so a restart costs no failed operation and no breaker failure.
    """
    from redis.asyncio import BlockingConnectionPool, Redis

    from src.infrastructure.redis_resilience import REDIS_HEALTH_CHECK_SECONDS, reconnect_retry
    from src.infrastructure.redis_sentinel import is_sentinel_url, sentinel_client

    assert settings.redis.url is not None
    if is_sentinel_url(settings.redis.url):
        return sentinel_client(
            settings.redis.url,
            timeout=settings.redis.timeout,
            blocking=blocking,
            max_connections=REDIS_MAX_CONNECTIONS,
            health_check_interval=REDIS_HEALTH_CHECK_SECONDS,
            retry=reconnect_retry(settings.redis.timeout),
        )
    # A blocking pool: under a burst of more concurrent calls than connections, a call waits (up to
    # the Redis timeout) for a free connection instead of failing, which would trip the breaker.
    pool = BlockingConnectionPool.from_url(
        settings.redis.url,
        max_connections=REDIS_MAX_CONNECTIONS,
        timeout=settings.redis.timeout,
        socket_timeout=None if blocking else settings.redis.timeout,
        socket_connect_timeout=settings.redis.timeout,
        health_check_interval=REDIS_HEALTH_CHECK_SECONDS,
        retry=reconnect_retry(settings.redis.timeout),
    )
    return Redis.from_pool(pool)


def build_redis_breaker(settings: Settings) -> CircuitBreaker:
    """One breaker for every Redis user (cache, rate limiter): when Redis fails, all fall back together."""
    from src.infrastructure.resilience import CircuitBreaker

    return CircuitBreaker(
        "redis",
        failure_threshold=settings.redis.breaker_failures,
        reset_after=settings.redis.breaker_reset_seconds,
    )


def build_cache(settings: Settings, redis: Redis | None, breaker: CircuitBreaker) -> Cache:
    """Redis when configured (fail-soft, through ``breaker``), else in-process memory."""
    if redis is None:
        from src.infrastructure.cache.memory_cache import MemoryCache

        return MemoryCache()
    from src.infrastructure.cache.redis_cache import RedisCache

    return RedisCache(redis, breaker, timeout=settings.redis.timeout)


def build_rate_limiter(settings: Settings, redis: Redis | None, breaker: CircuitBreaker) -> RateLimiter:
    """Redis GCRA shared by every instance (per-process while Redis is down), else in-process memory."""
    from src.infrastructure.rate_limit.memory_limiter import MemoryRateLimiter

    if redis is None:
        return MemoryRateLimiter()
    from src.infrastructure.rate_limit.redis_limiter import RedisRateLimiter
    from src.infrastructure.rate_limit.resilient import ResilientRateLimiter

    return ResilientRateLimiter(RedisRateLimiter(redis), MemoryRateLimiter(), breaker, timeout=settings.redis.timeout)


def build_pubsub(settings: Settings, breaker: CircuitBreaker) -> PubSubHub | None:
    """The process's one Redis pub/sub connection (its own client, no read timeout); ``None`` without Redis."""
    if not settings.redis.url:
        return None
    from src.infrastructure.realtime.pubsub import PubSubHub

    return PubSubHub(redis_client(settings, blocking=True), breaker, timeout=settings.redis.timeout)


def build_access_cache(cache: Cache, pubsub: PubSubHub | None) -> NearCache | None:
    """Access states kept in each process for a moment, dropped everywhere on change (with Redis).

    A shared (Redis) cache hears every invalidation, so entries can live long; each process also
    keeps them for a moment, dropped at once when any process forgets one (near_cache.py). A
    per-process cache cannot hear a change made by another process (the CLI, a second instance):
    without Redis there is no near cache, and access states live a second.
    """
    if pubsub is None:
        return None
    from src.infrastructure.cache.near_cache import NearCache

    return NearCache(cache, pubsub, local_ttl=ACCESS_STATE_NEAR_TTL_SECONDS)


def build_access_states(
    settings: Settings,
    uow: AppUnitOfWorkFactory,
    cache: Cache,
    *,
    user_events: UserEvents,
    stats: CacheStats,
    clock: Clock,
) -> UserAccessStates:
    """Whether each user is active, their token version, role and tier, read through ``cache``;
    a change is announced to the user's open connections on every instance (``user_events``)."""
    from src.application.identity.access_state import UserAccessStates
    from src.infrastructure.realtime.access_changes import UserEventAccessChanges
    from src.infrastructure.security.tokens import DEFAULT_LEEWAY

    return UserAccessStates(
        uow,
        cache,
        ttl_seconds=300 if settings.redis.url else 1,
        stats=stats,
        clock=clock,
        # A signed-out session's access tokens are refused until they would have expired anyway.
        ended_session_window=timedelta(seconds=settings.identity.access_token_ttl_seconds) + DEFAULT_LEEWAY,
        changes=UserEventAccessChanges(user_events),
    )


def build_tier_budgets(settings: Settings) -> TierBudgets:
    from src.domain.usage.model import TierBudgets, dollars_to_micros

    return TierBudgets(
        free_micros=dollars_to_micros(settings.usage.budget_free_monthly_usd),
        pro_micros=dollars_to_micros(settings.usage.budget_pro_monthly_usd),
    )


def build_paragraph_source(settings: Settings) -> HttpParagraphSource | OfflineParagraphSource:
    """PARAGRAPH_SOURCE_URL's service, or paragraphs made up offline when it is unset."""
    from src.infrastructure.external.paragraph_source import HttpParagraphSource, OfflineParagraphSource

    if settings.knowledge.paragraph_source_url:
        return HttpParagraphSource(
            settings.knowledge.paragraph_source_url, timeout=settings.knowledge.paragraph_source_timeout
        )
    return OfflineParagraphSource()


def build_dictionary(settings: Settings) -> HttpDictionary | OfflineDictionary:
    """DICTIONARY_API_URL's service, or no definitions when it is unset."""
    from src.infrastructure.external.dictionary import HttpDictionary, OfflineDictionary

    if settings.knowledge.dictionary_api_url:
        return HttpDictionary(settings.knowledge.dictionary_api_url, timeout=settings.knowledge.dictionary_timeout)
    return OfflineDictionary()


def build_dictionary_levels(
    settings: Settings,
    uow: AppUnitOfWorkFactory,
    cache: Cache,
    dictionary: HttpDictionary | OfflineDictionary,
) -> TopWordsDefinitions:
    """The dictionary's cache levels (the top words and their definitions)."""
    from src.application.knowledge.dictionary import TopWordsDefinitions
    from src.infrastructure.cache.stats import PrometheusCacheStats

    return TopWordsDefinitions(
        uow, cache, dictionary, concurrency=settings.knowledge.dictionary_concurrency, stats=PrometheusCacheStats()
    )
