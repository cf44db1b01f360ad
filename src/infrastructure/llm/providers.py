"""Building the model providers from settings (called by the composition root, ``container.py``).

The providers are the rows of ``provider_table.py``. One is configured when Parley may call it: with
its key (``<NAME>_API_KEY``), or, for OpenAI at ``OPENAI_BASE_URL`` and the OpenAI-compatible
providers, with a base URL alone (a server such as Ollama may need no key). The offline provider
always is. Each configured provider gets one adapter, and so one long-lived HTTP client, for the
life of the process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from src.application.llm.ports import ChatModel
from src.application.shared.ports import Clock
from src.domain.llm.routing import RetryPolicy
from src.infrastructure.llm.base import ProviderTimeouts
from src.infrastructure.llm.breakers import (
    BreakerReporter,
    LocalProviderBreakers,
    RedisProviderBreakers,
    SharedProviderBreakers,
)
from src.infrastructure.llm.catalog import OFFLINE_PROVIDER
from src.infrastructure.llm.catalog_loading import configured_provider_names
from src.infrastructure.llm.offline import OfflineChatModel
from src.infrastructure.resilience import CircuitBreaker
from src.infrastructure.settings import LlmSettings, Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


class ProviderModel(ChatModel, Protocol):
    """A provider's adapter: a ``ChatModel`` that holds a client to close at shutdown."""

    async def aclose(self) -> None: ...


def provider_timeouts(llm: LlmSettings) -> ProviderTimeouts:
    return ProviderTimeouts(
        connect=llm.connect_timeout, read=llm.read_timeout, total=llm.total_timeout, stream_idle=llm.stream_idle_timeout
    )


def retry_policy(llm: LlmSettings) -> RetryPolicy:
    return RetryPolicy(max_retries=llm.retries, base_delay=llm.retry_base_delay, max_delay=llm.retry_max_delay)


def build_llm_providers(settings: Settings, clock: Clock) -> dict[str, ProviderModel]:
    """One adapter per configured provider (a row of ``provider_table.py``), the offline one first."""
    timeouts = provider_timeouts(settings.llm)
    providers: dict[str, ProviderModel] = {
        OFFLINE_PROVIDER: OfflineChatModel(clock, token_delay_ms=settings.llm.offline_token_delay_ms)
    }
    configured = set(configured_provider_names(settings))
    for entry in settings.llm.providers:
        if entry.name not in configured:
            continue
        access = settings.llm.provider_access(entry.name)
        named = {"provider": entry.name} if entry.openai_compatible else {}
        providers[entry.name] = entry.adapter_class()(
            clock, timeouts, api_key=access.api_key, base_url=access.base_url, **named
        )
    return providers


def build_provider_breakers(
    settings: Settings, redis: Redis | None, redis_breaker: CircuitBreaker
) -> LocalProviderBreakers | SharedProviderBreakers:
    """One breaker per model, shared through Redis when it is configured (per process while it is
    unreachable), else per process. Concrete: the container flushes them at shutdown."""
    reporter = BreakerReporter(settings.llm.breaker_reset_seconds)
    min_calls, reset_after = settings.llm.breaker_min_calls, settings.llm.breaker_reset_seconds
    rate, window = settings.llm.breaker_failure_rate, settings.llm.breaker_window_seconds
    if redis is None:
        return LocalProviderBreakers(
            min_calls=min_calls, reset_after=reset_after, failure_rate=rate, window=window, reporter=reporter
        )
    return SharedProviderBreakers(
        RedisProviderBreakers(
            redis, min_calls=min_calls, reset_after=reset_after, failure_rate=rate, window=window, reporter=reporter
        ),
        LocalProviderBreakers(min_calls=min_calls, reset_after=reset_after, failure_rate=rate, window=window),
        redis_breaker,
        timeout=settings.redis.timeout,
        reporter=reporter,
    )
