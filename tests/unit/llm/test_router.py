"""The model router on scripted providers: retries, fallbacks, breakers, deadlines, cancellation, metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from src.application.llm.router import ModelRouter
from src.domain.llm.errors import (
    ContentBlocked,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    UnknownModel,
)
from src.domain.llm.model import (
    ChatRequest,
    Chunk,
    FinishReason,
    MessageRole,
    PromptMessage,
    StreamEnd,
    TextDelta,
    Usage,
)
from src.domain.llm.routing import FallbackChains, RetryPolicy
from src.infrastructure.llm.catalog import FileModelCatalog
from tests.fakes.llm_providers import (
    FakeBreakers,
    RecordingMetrics,
    ScriptedProvider,
    Step,
    answer,
    fail,
    fail_after,
    model_info,
)
from tests.fakes.shared import FakeClock

OPENAI, GROQ, GEMINI = "openai/gpt-test", "groq/llama-test", "gemini/flash-test"
#: Another model of the same provider as OPENAI.
OPENAI_OTHER = "openai/gpt-other"


@dataclass
class World:
    clock: FakeClock
    providers: dict[str, ScriptedProvider]
    breakers: FakeBreakers
    metrics: RecordingMetrics
    router: ModelRouter
    sleeps: list[float] = field(default_factory=list)

    def __getitem__(self, provider: str) -> ScriptedProvider:
        return self.providers[provider]


def build(
    *,
    fallbacks: str = f"{OPENAI} -> {GROQ} -> {GEMINI}",
    retries: int = 2,
    threshold: int = 3,
    configured: tuple[str, ...] = ("openai", "groq", "gemini"),
    total_timeout: float = 300.0,
) -> World:
    clock = FakeClock()
    providers = {name: ScriptedProvider(name, clock) for name in ("openai", "groq", "gemini")}
    catalog = FileModelCatalog(
        [model_info(OPENAI), model_info(OPENAI_OTHER), model_info(GROQ, input_price=500_000), model_info(GEMINI)],
        configured_providers=configured,
        default_model=None,
    )
    breakers = FakeBreakers(clock, failure_threshold=threshold, reset_after=30)
    metrics = RecordingMetrics()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    router = ModelRouter(
        {name: p for name, p in providers.items() if name in configured},
        catalog,
        clock,
        breakers=breakers,
        metrics=metrics,
        retry=RetryPolicy(max_retries=retries, base_delay=0.5, max_delay=4.0),
        fallbacks=FallbackChains.parse(fallbacks) if fallbacks else FallbackChains(),
        total_timeout=total_timeout,
        sleep=sleep,
        jitter=lambda: 0.5,
    )
    return World(clock, providers, breakers, metrics, router, sleeps)


def request(model: str = OPENAI, deadline: float | None = None) -> ChatRequest:
    return ChatRequest(messages=(PromptMessage(MessageRole.USER, "Hi there"),), model=model, deadline=deadline)


async def collect(chunks: AsyncIterator[Chunk]) -> tuple[str, StreamEnd]:
    text: list[str] = []
    async for chunk in chunks:
        if isinstance(chunk, TextDelta):
            text.append(chunk.text)
        else:
            return "".join(text), chunk
    raise AssertionError("the stream ended without a StreamEnd")


# -- the happy path --------------------------------------------------------------------------------------


async def test_a_request_goes_to_its_providers_adapter_and_reports_tokens_and_cost() -> None:
    world = build()
    world["openai"].script(answer("Hello", " world", usage=Usage(input_tokens=1000, output_tokens=500)))
    text, end = await collect(world.router.stream(request()))
    assert text == "Hello world"
    assert (end.finish_reason, end.model_id, end.usage.output_tokens) == (FinishReason.STOP, OPENAI, 500)
    assert [c.request.model for c in world["openai"].calls] == [OPENAI]
    assert world.metrics.outcomes() == ["openai/gpt-test:ok"]
    # $1 and $2 per million tokens: 1000 in + 500 out = 1000 + 1000 micro-dollars.
    assert world.metrics.tokens == [("openai", "gpt-test", Usage(input_tokens=1000, output_tokens=500), 2000)]
    assert world.breakers.verdicts == [("openai/gpt-test", "success")]


async def test_an_unknown_or_unconfigured_model_is_model_unavailable_before_any_call() -> None:
    world = build(configured=("openai",))
    with pytest.raises(UnknownModel) as caught:
        await collect(world.router.stream(request(GROQ)))
    assert caught.value.extra["available"] == [OPENAI, OPENAI_OTHER]
    with pytest.raises(UnknownModel):
        await world.router.complete(request("openai/gpt-nine"))
    assert not any(p.calls for p in world.providers.values())


async def test_the_deadline_reaches_the_adapter_total_timeout_when_the_request_sets_none() -> None:
    world = build(total_timeout=120)
    await collect(world.router.stream(request()))
    await collect(world.router.stream(request(deadline=42.0)))
    assert [c.request.deadline for c in world["openai"].calls] == [120.0, 42.0]


# -- retries -------------------------------------------------------------------------------------------


async def test_retryable_failures_are_retried_with_backoff_until_an_answer() -> None:
    world = build()
    world["openai"].script(fail(ProviderUnavailable("503")), fail(ProviderTimeout("slow")), answer("At last"))
    text, end = await collect(world.router.stream(request()))
    assert text == "At last"
    assert end.model_id == OPENAI
    assert len(world["openai"].calls) == 3
    assert world.sleeps == [0.375, 0.75]  # 0.5 * 2**n with half of it jittered (jitter 0.5)
    assert world.metrics.outcomes() == [
        "openai/gpt-test:provider_unavailable",
        "openai/gpt-test:provider_timeout",
        "openai/gpt-test:ok",
    ]
    assert not world["groq"].calls


async def test_a_rate_limited_retry_waits_at_least_what_the_provider_asked() -> None:
    world = build()
    world["openai"].script(fail(ProviderRateLimited("429", retry_after=7.0)), answer())
    await collect(world.router.stream(request()))
    assert world.sleeps == [7.0]


async def test_no_retry_after_the_first_delta_the_stream_ends_with_an_error_and_keeps_the_text() -> None:
    world = build()
    world["openai"].script(fail_after(2, ProviderUnavailable("connection reset"), "one", " two", " three"))
    text, end = await collect(world.router.stream(request()))
    assert text == "one two"
    assert end.finish_reason is FinishReason.ERROR
    assert end.error_code == "provider_unavailable"
    assert len(world["openai"].calls) == 1
    assert not world["groq"].calls, "no fallback once text has reached the caller"
    assert world.metrics.outcomes() == ["openai/gpt-test:interrupted"]
    assert world.breakers.verdicts == [("openai/gpt-test", "success"), ("openai/gpt-test", "failure")]


async def test_a_request_the_provider_rejects_is_raised_at_once_without_retry_or_fallback() -> None:
    for error in (ProviderBadRequest("too long", context_too_long=True), ContentBlocked("no")):
        world = build()
        world["openai"].script(fail(error))
        with pytest.raises(type(error)):
            await collect(world.router.stream(request()))
        assert len(world["openai"].calls) == 1
        assert not world["groq"].calls
        # The provider answered: it is up.
        assert world.breakers.verdicts == [("openai/gpt-test", "success")]


# -- fallbacks -----------------------------------------------------------------------------------------


async def test_when_a_models_retries_are_spent_the_chain_goes_on_in_order() -> None:
    world = build(retries=1)
    world["openai"].script(fail(ProviderUnavailable()), fail(ProviderUnavailable()))
    world["groq"].script(fail(ProviderRateLimited()), fail(ProviderRateLimited()))
    world["gemini"].script(answer("From Gemini"))
    text, end = await collect(world.router.stream(request()))
    assert text == "From Gemini"
    assert end.model_id == GEMINI, "the final item says which model answered"
    assert [len(world[p].calls) for p in ("openai", "groq", "gemini")] == [2, 2, 1]
    assert [c.request.model for c in world["gemini"].calls] == [GEMINI]
    assert world.metrics.outcomes()[-1] == "gemini/flash-test:ok"


async def test_a_refused_key_is_not_retried_but_the_next_model_is_tried() -> None:
    world = build()
    world["openai"].script(fail(ProviderAuthError("401")))
    text, end = await collect(world.router.stream(request()))
    assert end.model_id == GROQ
    assert len(world["openai"].calls) == 1
    assert world.sleeps == []


async def test_unconfigured_models_of_a_chain_are_skipped() -> None:
    world = build(configured=("openai", "gemini"))
    world["openai"].script(*[fail(ProviderUnavailable())] * 3)
    _, end = await collect(world.router.stream(request()))
    assert end.model_id == GEMINI
    assert not world["groq"].calls


async def test_when_every_model_fails_the_last_error_is_raised_and_nothing_was_yielded() -> None:
    world = build(retries=0)
    world["openai"].script(fail(ProviderUnavailable("openai down")))
    world["groq"].script(fail(ProviderTimeout("groq slow")))
    world["gemini"].script(fail(ProviderRateLimited("gemini busy", retry_after=3)))
    yielded: list[Chunk] = []

    async def read() -> None:
        async for chunk in world.router.stream(request()):
            yielded.append(chunk)

    with pytest.raises(ProviderRateLimited, match="gemini busy"):
        await read()
    assert yielded == []


async def test_a_model_without_a_chain_has_no_fallback() -> None:
    world = build(fallbacks="")
    world["openai"].script(*[fail(ProviderUnavailable())] * 3)
    with pytest.raises(ProviderUnavailable):
        await collect(world.router.stream(request()))
    assert len(world["openai"].calls) == 3
    assert not world["groq"].calls


async def test_complete_retries_and_falls_back_the_same_way() -> None:
    world = build(retries=1)
    world["openai"].script(fail(ProviderUnavailable()), fail(ProviderUnavailable()))
    world["groq"].script(answer("Groq", " here"))
    completion = await world.router.complete(request())
    assert (completion.text, completion.model_id) == ("Groq here", GROQ)
    assert len(world["openai"].calls) == 2
    assert world.metrics.outcomes()[-1] == "groq/llama-test:ok"
    # Groq's input price is $0.50 per million: 10 * 0.5 + 2 * 2 = 9 micro-dollars.
    assert world.metrics.tokens[-1][3] == 9


# -- deadlines --------------------------------------------------------------------------------------------


async def test_a_wait_that_would_pass_the_deadline_moves_on_to_the_next_model() -> None:
    world = build()
    world["openai"].script(fail(ProviderRateLimited("busy", retry_after=60)))
    _, end = await collect(world.router.stream(request(deadline=10.0)))
    assert end.model_id == GROQ
    assert world.sleeps == []
    assert len(world["openai"].calls) == 1


async def test_nothing_starts_after_the_deadline() -> None:
    world = build(retries=5)
    world["openai"].script(*[fail(ProviderUnavailable("down"))] * 6)
    world["groq"].script(*[fail(ProviderUnavailable("down too"))] * 6)
    world["gemini"].script(*[fail(ProviderUnavailable("down as well"))] * 6)
    with pytest.raises(ProviderUnavailable):
        await collect(world.router.stream(request(deadline=2.0)))
    assert world.clock.monotonic() < 2.0 + 1e-9
    assert sum(world.sleeps) < 2.0
    world.clock.advance(5)
    with pytest.raises(ProviderTimeout, match="deadline"):
        await world.router.complete(request(deadline=1.0))


# -- circuit breakers -------------------------------------------------------------------------------------


async def test_an_open_breaker_skips_the_provider_without_calling_it_then_one_probe_closes_it() -> None:
    world = build(retries=2, threshold=3)
    world["openai"].script(*[fail(ProviderUnavailable())] * 3)
    _, end = await collect(world.router.stream(request()))
    assert end.model_id == GROQ
    assert len(world["openai"].calls) == 3

    # Open: the next requests skip OpenAI without a call.
    _, end = await collect(world.router.stream(request()))
    assert end.model_id == GROQ
    assert len(world["openai"].calls) == 3
    assert "openai/gpt-test:breaker_open" in world.metrics.outcomes()

    # After reset_after: one probe; its success closes the breaker.
    world.clock.advance(30)
    _, end = await collect(world.router.stream(request()))
    assert end.model_id == OPENAI
    assert len(world["openai"].calls) == 4
    _, end = await collect(world.router.stream(request()))
    assert end.model_id == OPENAI


async def test_with_no_fallback_an_open_breaker_is_provider_unavailable() -> None:
    world = build(fallbacks="", retries=0, threshold=1)
    world["openai"].script(fail(ProviderTimeout("slow")))
    with pytest.raises(ProviderTimeout):
        await world.router.complete(request())
    with pytest.raises(ProviderUnavailable, match="circuit breaker open"):
        await world.router.complete(request())
    assert len(world["openai"].calls) == 1


async def test_a_broken_model_opens_its_own_breaker_and_the_providers_other_models_keep_answering() -> None:
    world = build(fallbacks="", retries=0, threshold=2)
    world["openai"].script(fail(ProviderUnavailable("500")), fail(ProviderUnavailable("500")), answer("fine"))
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            await world.router.complete(request(OPENAI))
    with pytest.raises(ProviderUnavailable, match="circuit breaker open"):
        await world.router.complete(request(OPENAI))
    assert len(world["openai"].calls) == 2

    completion = await world.router.complete(request(OPENAI_OTHER))
    assert completion.text == "fine"
    assert world.breakers.verdicts[-1] == (OPENAI_OTHER, "success")


async def test_when_no_model_answers_the_error_names_every_model_tried_and_how_it_ended() -> None:
    world = build(retries=0, threshold=1)
    world["openai"].script(fail(ProviderUnavailable("upstream 500")))
    world["groq"].script(fail(ProviderTimeout("slow")))
    world["gemini"].script(fail(ProviderUnavailable("upstream 502")))
    with pytest.raises(ProviderUnavailable) as first:
        await collect(world.router.stream(request()))
    assert first.value.detail == (
        "upstream 502 (tried openai/gpt-test: provider_unavailable; groq/llama-test: provider_timeout; "
        "gemini/flash-test: provider_unavailable)"
    )
    assert first.value.extra["tried"] == {
        OPENAI: "provider_unavailable",
        GROQ: "provider_timeout",
        GEMINI: "provider_unavailable",
    }
    # Their breakers are open now: the next request says they were skipped.
    with pytest.raises(ProviderUnavailable) as second:
        await world.router.complete(request())
    assert "tried openai/gpt-test: skipped, circuit open; groq/llama-test: skipped, circuit open" in second.value.detail


# -- cancellation ---------------------------------------------------------------------------------------


async def test_closing_the_stream_early_closes_the_providers_stream_and_reports_estimated_usage() -> None:
    world = build()
    world["openai"].script(answer("one", " two", " three", " four"))
    stream = world.router.stream(request())
    assert await anext(stream) == TextDelta("one")
    assert await anext(stream) == TextDelta(" two")
    await stream.aclose()  # type: ignore[attr-defined]
    call = world["openai"].calls[0]
    assert call.closed_early
    assert call.delivered == 2
    assert world.metrics.outcomes() == ["openai/gpt-test:cancelled"]
    (_, _, usage, cost) = world.metrics.tokens[0]
    assert usage.estimated
    assert usage.output_tokens >= 2
    assert cost > 0


async def test_cancelled_before_the_first_chunk_the_probe_is_released() -> None:
    world = build()
    world["openai"].script(Step(hang=True))
    task = asyncio.create_task(collect(world.router.stream(request())))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert world.breakers.verdicts == [("openai/gpt-test", "release")]
    assert world.metrics.outcomes() == ["openai/gpt-test:cancelled"]


# -- an adapter breaking the contract ------------------------------------------------------------------


class NoEndProvider(ScriptedProvider):
    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        yield TextDelta("half")


async def test_a_stream_that_stops_without_its_final_item_ends_as_interrupted() -> None:
    world = build()
    world.router._providers["openai"] = NoEndProvider("openai")
    text, end = await collect(world.router.stream(request()))
    assert text == "half"
    assert end.finish_reason is FinishReason.ERROR
    assert end.usage.estimated


@pytest.mark.parametrize("error", [ProviderUnavailable(), ProviderError()])
async def test_the_router_raises_only_domain_errors(error: ProviderError) -> None:
    world = build(fallbacks="", retries=0)
    world["openai"].script(fail(error))
    with pytest.raises(ProviderError):
        await collect(world.router.stream(request()))


class ClosingProvider(ScriptedProvider):
    """Ends its answer as adapters do, with work left after its final item (closing its response)."""

    def __init__(self, provider: str) -> None:
        super().__init__(provider)
        self.closed_at_once = False

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        try:
            yield TextDelta("whole")
            yield StreamEnd(
                finish_reason=FinishReason.STOP,
                usage=Usage(2, 1),
                provider=self.provider,
                model="gpt-test",
                latency_ms=1,
            )
        finally:
            self.closed_at_once = True


async def test_a_stream_read_to_its_end_closes_the_providers_stream_before_the_caller_goes_on() -> None:
    # Regression: the relay returned after the final item and left the adapter's generator suspended on
    # it, for the garbage collector's finalizer to close in a task of its own (a thread-safe wakeup of the
    # loop per reply, and the provider's response released a turn later).
    world = build()
    provider = ClosingProvider("openai")
    world.router._providers["openai"] = provider
    # As a reply's task reads: to the final item, then the stream closed.
    stream = world.router.stream(request())
    text, end = await collect(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    assert (text, end.finish_reason) == ("whole", FinishReason.STOP)
    assert provider.closed_at_once
