"""Fakes of the ``llm`` ports for unit tests: a scripted provider adapter, breakers and metrics.

``ScriptedProvider`` is a ``ChatModel`` for one provider whose calls follow a script, one ``Step``
per call (``answer(...)`` when the script is spent):

    provider = ScriptedProvider("openai", clock)
    provider.script(fail(ProviderUnavailable("down")), answer("Hello there"))
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from src.domain.llm.errors import ProviderError
from src.domain.llm.model import (
    ChatRequest,
    Chunk,
    Completion,
    FinishReason,
    ModelInfo,
    ModelPricing,
    StreamEnd,
    TextDelta,
    Usage,
)
from src.domain.llm.routing import ProviderCircuit
from tests.fakes.shared import FakeClock


@dataclass(frozen=True)
class Step:
    text: tuple[str, ...] = ("Hello", " there")
    #: Raised before the first delta.
    error: ProviderError | None = None
    #: After this many deltas the stream ends with finish_reason error (this error's code).
    fail_after: int | None = None
    usage: Usage | None = None
    finish_reason: FinishReason = FinishReason.STOP
    #: Wait forever before the first chunk (to be cancelled).
    hang: bool = False


def answer(*text: str, usage: Usage | None = None, finish: FinishReason = FinishReason.STOP) -> Step:
    return Step(text=text or ("Hello", " there"), usage=usage, finish_reason=finish)


def fail(error: ProviderError) -> Step:
    return Step(error=error)


def fail_after(count: int, error: ProviderError, *text: str) -> Step:
    return Step(text=text or ("one", " two", " three", " four"), fail_after=count, error=error)


@dataclass
class Call:
    request: ChatRequest
    #: Deltas the caller read before it stopped.
    delivered: int = 0
    closed_early: bool = False


class ScriptedProvider:
    def __init__(self, provider: str, clock: FakeClock | None = None) -> None:
        self.provider = provider
        self.clock = clock or FakeClock()
        self._steps: deque[Step] = deque()
        self.calls: list[Call] = []
        self.closed = False

    def script(self, *steps: Step) -> None:
        self._steps.extend(steps)

    def _next(self, request: ChatRequest) -> tuple[Step, Call]:
        call = Call(request)
        self.calls.append(call)
        return (self._steps.popleft() if self._steps else answer()), call

    async def aclose(self) -> None:
        self.closed = True

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        step, call = self._next(request)
        if step.hang:
            await asyncio.Event().wait()
        if step.error is not None and step.fail_after is None:
            raise step.error
        finished = False
        try:
            for index, piece in enumerate(step.text):
                if step.fail_after is not None and index >= step.fail_after:
                    assert step.error is not None
                    finished = True
                    yield self._end(request, step, call, FinishReason.ERROR, step.error)
                    return
                call.delivered += 1
                yield TextDelta(piece)
            finished = True
            yield self._end(request, step, call, step.finish_reason, None)
        finally:
            if not finished:
                call.closed_early = True

    def _end(
        self, request: ChatRequest, step: Step, call: Call, finish: FinishReason, error: ProviderError | None
    ) -> StreamEnd:
        return StreamEnd(
            finish_reason=finish,
            usage=step.usage or Usage(input_tokens=10, output_tokens=call.delivered),
            provider=self.provider,
            model=request.model_id.name,
            latency_ms=5,
            ttft_ms=1,
            error_code=None if error is None else error.code,
            error_detail=None if error is None else error.detail,
        )

    async def complete(self, request: ChatRequest) -> Completion:
        step, _ = self._next(request)
        if step.hang:
            await asyncio.Event().wait()
        if step.error is not None:
            raise step.error
        return Completion(
            text="".join(step.text),
            finish_reason=step.finish_reason,
            usage=step.usage or Usage(input_tokens=10, output_tokens=len(step.text)),
            provider=self.provider,
            model=request.model_id.name,
            latency_ms=5,
            ttft_ms=5,
        )


class FakeBreakers:
    """``ProviderBreakers`` on the domain's ``ProviderCircuit`` and a fake clock; records every verdict."""

    def __init__(self, clock: FakeClock, *, failure_threshold: int = 3, reset_after: float = 30.0) -> None:
        self.clock = clock
        self.threshold = failure_threshold
        self.reset_after = reset_after
        self.circuits: dict[str, ProviderCircuit] = {}
        self.verdicts: list[tuple[str, str]] = []

    def circuit(self, provider: str) -> ProviderCircuit:
        return self.circuits.setdefault(
            provider, ProviderCircuit(min_calls=self.threshold, reset_after=self.reset_after)
        )

    async def allow(self, provider: str) -> bool:
        return self.circuit(provider).allow(self.clock.monotonic())

    async def record_success(self, provider: str) -> None:
        self.verdicts.append((provider, "success"))
        self.circuit(provider).record_success(self.clock.monotonic())

    async def record_failure(self, provider: str) -> None:
        self.verdicts.append((provider, "failure"))
        self.circuit(provider).record_failure(self.clock.monotonic())

    async def release(self, provider: str) -> None:
        self.verdicts.append((provider, "release"))
        self.circuit(provider).release()


@dataclass
class RecordingMetrics:
    attempts: list[tuple[str, str, str]] = field(default_factory=list)
    tokens: list[tuple[str, str, Usage, int]] = field(default_factory=list)

    def attempt_finished(
        self,
        provider: str,
        model: str,
        outcome: str,
        *,
        duration_s: float | None = None,
        ttft_s: float | None = None,
    ) -> None:
        self.attempts.append((provider, model, outcome))

    def tokens_used(self, provider: str, model: str, usage: Usage, cost_micros: int) -> None:
        self.tokens.append((provider, model, usage, cost_micros))

    def outcomes(self) -> list[str]:
        return [f"{provider}/{model}:{outcome}" for provider, model, outcome in self.attempts]


def model_info(model_id: str, *, input_price: int = 1_000_000, output_price: int = 2_000_000) -> ModelInfo:
    """A catalog entry priced in micro-dollars per million tokens ($1 and $2 by default)."""
    return ModelInfo(
        id=model_id,
        display_name=model_id,
        context_window=100_000,
        max_output_tokens=4_000,
        pricing=ModelPricing(input_per_million=input_price, output_per_million=output_price),
    )
