"""The model router: one ``ChatModel`` in front of every provider's adapter.

For a request it resolves the model in the catalog (``UnknownModel`` when it is not available), then
tries it and, if it cannot answer, the models of its fallback chain in order. Each model is retried
on ``ProviderRateLimited``, ``ProviderUnavailable`` and ``ProviderTimeout`` with exponential backoff
and jitter (``RetryPolicy``; a provider's ``retry_after`` is honoured), never past the request's
deadline, and only until the first delta: once text has reached the caller, a failure ends the stream
with ``finish_reason`` ``error`` and the text stands. A refused key is not retried, but the next model
of the chain is tried; a request the provider rejects (``ProviderBadRequest``, ``ContentBlocked``) is
raised at once.

Each model has a circuit breaker (``ProviderBreakers``, keyed ``provider/model``): while it is open
the model is skipped without a call, and the provider's other models go on. When no model could
answer, the error's detail names every model tried and how each failed. Every attempt, the tokens
used and their cost (catalog prices) are reported to ``LlmMetrics``. The final ``StreamEnd`` (or
``Completion``) names the model that answered; its ``latency_ms`` and ``ttft_ms`` count from the
start of the request, retries and fallbacks included.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import aclosing
from typing import Any

from src.application.llm.ports import ChatModel, LlmMetrics, ModelCatalog, ProviderBreakers
from src.application.shared.ports import Clock
from src.domain.llm.errors import ProviderError, ProviderRateLimited, ProviderTimeout, ProviderUnavailable
from src.domain.llm.model import (
    ChatRequest,
    Chunk,
    Completion,
    FinishReason,
    ModelId,
    ModelInfo,
    StreamEnd,
    Usage,
    estimate_usage,
)
from src.domain.llm.routing import FallbackChains, RetryPolicy


@dataclasses.dataclass(slots=True)
class _Attempt:
    """One call to one model; the caller sets ``failure`` when it failed with a ``ProviderError``."""

    info: ModelInfo
    model: ModelId
    adapter: ChatModel
    call: ChatRequest
    started: float
    failure: ProviderError | None = None


#: When the request has no deadline: the longest a call may take, retries and fallbacks included.
DEFAULT_TOTAL_TIMEOUT = 300.0


class ModelRouter:
    def __init__(
        self,
        providers: Mapping[str, ChatModel],
        catalog: ModelCatalog,
        clock: Clock,
        *,
        breakers: ProviderBreakers,
        metrics: LlmMetrics,
        retry: RetryPolicy | None = None,
        fallbacks: FallbackChains | None = None,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        unbreakable: Collection[str] = (),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        """``providers`` maps a provider name to its adapter; ``unbreakable`` providers (the offline
        one) cannot fail for outside reasons and skip the breakers."""
        self._providers = dict(providers)
        self._catalog = catalog
        self._clock = clock
        self._breakers = breakers
        self._metrics = metrics
        self._retry = retry or RetryPolicy()
        self._fallbacks = fallbacks or FallbackChains()
        self._total_timeout = total_timeout
        self._unbreakable = frozenset(unbreakable)
        self._sleep = sleep
        self._jitter = jitter

    # -- the port ----------------------------------------------------------------------------------

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        started = self._clock.monotonic()
        async with aclosing(self._attempts(request, started)) as attempts:
            async for attempt in attempts:
                chunks = attempt.adapter.stream(attempt.call)
                try:
                    first = await anext(chunks)
                except StopAsyncIteration:
                    attempt.failure = ProviderUnavailable(
                        f"{attempt.model.provider} ended its stream without an answer", provider=attempt.model.provider
                    )
                    continue
                except ProviderError as exc:
                    attempt.failure = exc
                    continue
                except BaseException as exc:
                    # The caller went away while waiting for the first chunk: no verdict on the provider.
                    await self._gave_up(attempt, exc)
                    raise
                await self._succeeded(attempt.model)
                relay = self._relay(attempt.info, attempt.model, attempt.call, chunks, first, started)
                try:
                    async for chunk in relay:
                        yield chunk
                finally:
                    # Not left to the garbage collector: the provider's stream closes now.
                    await relay.aclose()
                return

    async def complete(self, request: ChatRequest) -> Completion:
        started = self._clock.monotonic()
        async with aclosing(self._attempts(request, started)) as attempts:
            async for attempt in attempts:
                try:
                    completion = await attempt.adapter.complete(attempt.call)
                except ProviderError as exc:
                    attempt.failure = exc
                    continue
                except BaseException as exc:
                    await self._gave_up(attempt, exc)
                    raise
                await self._succeeded(attempt.model)
                latency_ms = self._elapsed_ms(started)
                completion = dataclasses.replace(
                    completion, latency_ms=latency_ms, ttft_ms=latency_ms if completion.text else None
                )
                self._answered(attempt.info, completion.provider, completion.model, completion.usage)
                self._metrics.attempt_finished(
                    completion.provider, completion.model, "ok", duration_s=latency_ms / 1000
                )
                return completion
        raise AssertionError("unreachable: the attempts end in an answer or an error")  # pragma: no cover

    # -- the attempts: retries, then fallbacks --------------------------------------------------------

    async def _attempts(self, request: ChatRequest, started: float) -> AsyncGenerator[_Attempt, None]:
        """The calls to make, in order: the requested model, retried with backoff, then each model of its
        fallback chain. The caller makes each call and, when it fails, sets ``attempt.failure`` and asks
        for the next; it stops asking once a call succeeded. Raises when no model could answer (naming
        every model tried), when the deadline passes, or at once for a failure that is the request's."""
        deadline = self._deadline(request, started)
        last_error: ProviderError | None = None
        tried: dict[str, str] = {}
        for info in self._candidates(request.model):
            model = ModelId.parse(info.id)
            adapter = self._providers[model.provider]
            call = dataclasses.replace(request, model=info.id, deadline=deadline)
            retry = 0
            while True:
                if not await self._admitted(model, deadline, last_error, tried):
                    last_error = self._breaker_open(model)
                    tried[str(model)] = "skipped, circuit open"
                    break
                attempt = _Attempt(info, model, adapter, call, started=self._clock.monotonic())
                yield attempt
                failure = attempt.failure
                if failure is None:
                    return
                last_error = failure
                tried[str(model)] = failure.code
                wait = await self._after_failure(model, failure, retry, attempt.started, deadline)
                if wait is None:
                    break
                await self._sleep(wait)
                retry += 1
        raise _naming_tried(last_error or ProviderUnavailable("no model could answer"), tried)

    async def _gave_up(self, attempt: _Attempt, exc: BaseException) -> None:
        """A call that ended neither with an answer nor a ``ProviderError`` (the caller went away, a bug):
        its breaker slot is given back without a verdict."""
        await self._release(attempt.model)
        self._attempt(attempt.model, _outcome_of(exc), attempt.started)

    # -- choosing models -----------------------------------------------------------------------------

    def _deadline(self, request: ChatRequest, started: float) -> float:
        return request.deadline if request.deadline is not None else started + self._total_timeout

    def _candidates(self, requested: str) -> list[ModelInfo]:
        """The requested model (``UnknownModel`` when unavailable), then its available fallbacks."""
        first = self._catalog.resolve(requested)
        candidates = [first]
        for model_id in self._fallbacks.fallbacks_for(first.id):
            info = self._catalog.get(model_id)
            if info is not None and self._catalog.is_available(model_id) and info.provider in self._providers:
                candidates.append(info)
        return [c for c in candidates if c.provider in self._providers]

    async def _admitted(
        self, model: ModelId, deadline: float, last_error: ProviderError | None, tried: Mapping[str, str]
    ) -> bool:
        """Raise when the deadline has passed; ``False`` when the model's breaker is open."""
        if self._clock.monotonic() >= deadline:
            raise _naming_tried(
                last_error or ProviderTimeout("the request's deadline passed before a model answered"), tried
            )
        if model.provider in self._unbreakable:
            return True
        return await self._breakers.allow(str(model))

    def _breaker_open(self, model: ModelId) -> ProviderUnavailable:
        self._metrics.attempt_finished(model.provider, model.name, "breaker_open")
        return ProviderUnavailable(
            f"{model} is failing and is being skipped for a while (circuit breaker open)",
            provider=model.provider,
        )

    async def _after_failure(
        self, model: ModelId, error: ProviderError, retry: int, attempt_started: float, deadline: float
    ) -> float | None:
        """Record a failed attempt; the seconds to wait before retrying, or ``None`` to move on to
        the next model. Raises ``error`` when no other attempt could help (the request's fault)."""
        self._attempt(model, error.code, attempt_started)
        if error.provider_fault:
            await self._failed(model)
        else:
            await self._succeeded(model)  # it answered: the model is up
            raise error
        if not error.retryable or retry >= self._retry.max_retries:
            return None
        retry_after = error.retry_after if isinstance(error, ProviderRateLimited) else None
        wait = self._retry.delay(retry, retry_after=retry_after, jitter=self._jitter())
        if self._clock.monotonic() + wait >= deadline:
            return None
        return wait

    # -- relaying a stream -----------------------------------------------------------------------------

    async def _relay(
        self,
        info: ModelInfo,
        model: ModelId,
        call: ChatRequest,
        chunks: AsyncIterator[Chunk],
        first: Chunk,
        started: float,
    ) -> AsyncGenerator[Chunk, None]:
        """Pass the chunks on; the caller stopping early closes the provider's stream at once."""
        text: list[str] = []
        ttft_ms: int | None = None
        ended = False
        try:
            chunk: Chunk = first
            while True:
                if isinstance(chunk, StreamEnd):
                    ended = True
                    end = dataclasses.replace(chunk, latency_ms=self._elapsed_ms(started), ttft_ms=ttft_ms)
                    self._stream_ended(info, end)
                    if end.finish_reason is FinishReason.ERROR:
                        await self._failed(model)
                    yield end
                    return
                if ttft_ms is None:
                    ttft_ms = self._elapsed_ms(started)
                text.append(chunk.text)
                yield chunk
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    # An adapter that broke the port's contract: end the stream as interrupted.
                    chunk = StreamEnd(
                        finish_reason=FinishReason.ERROR,
                        usage=estimate_usage(call.messages, "".join(text)),
                        provider=model.provider,
                        model=model.name,
                        latency_ms=self._elapsed_ms(started),
                        error_code=ProviderUnavailable.code,
                        error_detail=f"{model.provider} ended its stream without a final item",
                    )
        finally:
            # Closed now, at its end too: an adapter's generator left suspended on its final item would be
            # closed by the garbage collector's finalizer, in a task of its own a loop turn later.
            await _aclose(chunks)
            if not ended:
                usage = estimate_usage(call.messages, "".join(text))
                self._answered(info, model.provider, model.name, usage)
                self._metrics.attempt_finished(
                    model.provider,
                    model.name,
                    "cancelled",
                    duration_s=self._elapsed_ms(started) / 1000,
                    ttft_s=None if ttft_ms is None else ttft_ms / 1000,
                )

    def _stream_ended(self, info: ModelInfo, end: StreamEnd) -> None:
        self._answered(info, end.provider, end.model, end.usage)
        self._metrics.attempt_finished(
            end.provider,
            end.model,
            "interrupted" if end.finish_reason is FinishReason.ERROR else "ok",
            duration_s=end.latency_ms / 1000,
            ttft_s=None if end.ttft_ms is None else end.ttft_ms / 1000,
        )

    # -- reporting -----------------------------------------------------------------------------------------

    def _answered(self, info: ModelInfo, provider: str, model: str, usage: Usage) -> None:
        self._metrics.tokens_used(provider, model, usage, info.pricing.cost_micros(usage))

    def _attempt(self, model: ModelId, outcome: str, attempt_started: float) -> None:
        self._metrics.attempt_finished(
            model.provider, model.name, outcome, duration_s=self._clock.monotonic() - attempt_started
        )

    async def _succeeded(self, model: ModelId) -> None:
        if model.provider not in self._unbreakable:
            await self._breakers.record_success(str(model))

    async def _failed(self, model: ModelId) -> None:
        if model.provider not in self._unbreakable:
            await self._breakers.record_failure(str(model))

    async def _release(self, model: ModelId) -> None:
        if model.provider not in self._unbreakable:
            await self._breakers.release(str(model))

    def _elapsed_ms(self, started: float) -> int:
        return round((self._clock.monotonic() - started) * 1000)


def _naming_tried(error: ProviderError, tried: Mapping[str, str]) -> ProviderError:
    """``error`` with its detail naming every model tried and how each ended, so a client (and the
    person reading the chat) knows what failed: "... (tried openai/gpt-x: provider_unavailable; ...)"."""
    if tried and "tried" not in error.extra:
        error.extra["tried"] = dict(tried)
        summary = "; ".join(f"{model}: {outcome}" for model, outcome in tried.items())
        error.detail = f"{error.detail} (tried {summary})"
    return error


def _outcome_of(exc: BaseException) -> str:
    """A call that ended neither with an answer nor a ``ProviderError`` (cancelled, or a bug)."""
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return "cancelled"
    return getattr(exc, "code", None) or "error"


async def _aclose(chunks: AsyncIterator[Chunk]) -> None:
    close: Any = getattr(chunks, "aclose", None)
    if close is not None:
        await close()
