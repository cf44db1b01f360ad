"""CheckProviders: a tiny call to each configured provider, to see that its key and address work.

Each provider is asked directly (no router: no retries, no fallback, no circuit breaker) with one
short prompt on one of its models: the default model when it is that provider's, else its first
``cheap`` model, else its first. The calls run side by side, each within ``timeout_seconds``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from src.application.llm.ports import ChatModel, ModelCatalog
from src.application.shared.ports import Clock
from src.domain.llm.errors import ProviderError, ProviderTimeout, UnknownModel
from src.domain.llm.model import ChatRequest, MessageRole, ModelInfo, PromptMessage

CHECK_PROMPT = "Reply with the single word OK."


@dataclass(frozen=True, slots=True)
class CheckProvidersCommand:
    #: Only these providers (all configured ones when empty).
    providers: tuple[str, ...] = ()
    timeout_seconds: float = 30.0
    max_output_tokens: int = 16


@dataclass(frozen=True, slots=True)
class ProviderCheck:
    provider: str
    model: str | None
    ok: bool
    latency_ms: int
    error_code: str | None = None
    detail: str | None = None


class CheckProviders:
    def __init__(self, providers: Mapping[str, ChatModel], catalog: ModelCatalog, clock: Clock) -> None:
        self._providers = dict(providers)
        self._catalog = catalog
        self._clock = clock

    async def __call__(self, command: CheckProvidersCommand) -> list[ProviderCheck]:
        names = list(command.providers) or list(self._providers)
        return list(await asyncio.gather(*(self._check(name, command) for name in names)))

    def model_for(self, provider: str) -> ModelInfo | None:
        models = [m for m in self._catalog.models() if m.provider == provider and self._catalog.is_available(m.id)]
        default = next((m for m in models if m.id == self._catalog.default_model), None)
        cheap = next((m for m in models if "cheap" in m.capabilities), None)
        return default or cheap or (models[0] if models else None)

    async def _check(self, provider: str, command: CheckProvidersCommand) -> ProviderCheck:
        adapter = self._providers.get(provider)
        info = self.model_for(provider) if adapter is not None else None
        if adapter is None or info is None:
            reason = "is not configured" if adapter is None else "has no available model in the catalog"
            detail = f"{provider} {reason}"
            return ProviderCheck(provider, None, ok=False, latency_ms=0, error_code=UnknownModel.code, detail=detail)
        started = self._clock.monotonic()
        request = ChatRequest(
            messages=(PromptMessage(MessageRole.USER, CHECK_PROMPT),),
            model=info.id,
            temperature=0.0,
            max_output_tokens=command.max_output_tokens,
            deadline=started + command.timeout_seconds,
        )
        try:
            async with asyncio.timeout(command.timeout_seconds):
                await adapter.complete(request)
        except TimeoutError:
            error: ProviderError | UnknownModel = ProviderTimeout(
                f"no answer within {command.timeout_seconds:g} s", provider=provider
            )
        except (ProviderError, UnknownModel) as exc:
            error = exc
        else:
            return ProviderCheck(provider, info.id, ok=True, latency_ms=self._elapsed_ms(started))
        latency_ms = self._elapsed_ms(started)
        return ProviderCheck(
            provider, info.id, ok=False, latency_ms=latency_ms, error_code=error.code, detail=error.detail
        )

    def _elapsed_ms(self, started: float) -> int:
        return round((self._clock.monotonic() - started) * 1000)
