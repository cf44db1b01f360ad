"""LLM router overhead: time to first delta and total time, router+adapter vs the raw SDK, per provider.

Both sides stream the same answer (24 words) from the same local fake provider server
(``tests/fakes/llm_server.py``, the providers' real wire formats) with the same official SDK; one side
calls the SDK directly, the other goes through Parley's router (catalog lookup, circuit breaker, metrics,
cost) and the provider's adapter (timeouts, event parsing, usage). Calls alternate between the two
sides so drift on a noisy machine hits both alike. Goal: p50 overhead under 1 ms, for both figures.
The overhead is the median of the per-pair differences (router minus SDK, same iteration).

    uv run python -m bench llm            # BENCH_LLM_CALLS=300 by default per provider and side
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import groq
import openai
from google import genai
from google.genai import types as genai_types

from src.application.llm.router import ModelRouter
from src.domain.llm.model import ChatRequest, MessageRole, PromptMessage, TextDelta
from src.infrastructure.clock import SystemClock
from src.infrastructure.llm.base import ProviderAdapter, ProviderTimeouts
from src.infrastructure.llm.breakers import LocalProviderBreakers
from src.infrastructure.llm.catalog import FileModelCatalog
from src.infrastructure.llm.gemini import GeminiChatModel
from src.infrastructure.llm.groq import GroqChatModel
from src.infrastructure.llm.metrics import PrometheusLlmMetrics
from src.infrastructure.llm.offline import OfflineChatModel
from src.infrastructure.llm.openai import OpenAIChatModel
from tests.fakes.llm_server import FakeProviderServer, Reply

CALLS = int(os.environ.get("BENCH_LLM_CALLS", "300"))
WARMUP = 20
ANSWER = " ".join(f"token{n}" for n in range(24))
PROMPT = "Say twenty-four words."
MODELS = {"openai": "gpt-4.1-mini", "groq": "llama-3.3-70b-versatile", "gemini": "gemini-2.5-flash"}
TIMEOUTS = ProviderTimeouts(connect=5, read=30, total=60, stream_idle=30)

#: (seconds to first text, seconds to the end)
Timing = tuple[float, float]


async def timed(open_stream: Callable[[], Awaitable[AsyncIterator[Any]]], is_text: Callable[[Any], bool]) -> Timing:
    """Time from before the request is sent to the first text, and to the end of the stream."""
    started = time.perf_counter()
    first: float | None = None
    async for chunk in await open_stream():
        if first is None and is_text(chunk):
            first = time.perf_counter()
    end = time.perf_counter()
    assert first is not None, "no text arrived"
    return first - started, end - started


def _opened(chunks: AsyncIterator[Any]) -> Callable[[], Awaitable[AsyncIterator[Any]]]:
    """A generator as ``timed`` takes it (a generator sends its request on the first ``anext``)."""

    async def open_stream() -> AsyncIterator[Any]:
        return chunks

    return open_stream


def raw_sdk_call(provider: str, server: FakeProviderServer) -> tuple[Callable[[], Awaitable[Timing]], Any]:
    """A function streaming one answer with the provider's SDK alone, and the client to close."""
    messages = [{"role": "user", "content": PROMPT}]
    if provider == "openai":
        client: Any = openai.AsyncOpenAI(
            api_key="bench", base_url=server.openai_base_url, max_retries=0, timeout=openai.Timeout(30, connect=5)
        )

        async def call_openai() -> Timing:
            return await timed(
                lambda: client.chat.completions.create(
                    model=MODELS["openai"], messages=messages, stream=True, stream_options={"include_usage": True}
                ),
                lambda c: bool(c.choices and c.choices[0].delta.content),
            )

        return call_openai, client.close
    if provider == "groq":
        client = groq.AsyncGroq(
            api_key="bench", base_url=server.base_url, max_retries=0, timeout=groq.Timeout(30, connect=5)
        )

        async def call_groq() -> Timing:
            return await timed(
                lambda: client.chat.completions.create(
                    model=MODELS["groq"],
                    messages=messages,
                    stream=True,
                    extra_body={"stream_options": {"include_usage": True}},
                ),
                lambda c: bool(c.choices and c.choices[0].delta.content),
            )

        return call_groq, client.close
    client = genai.Client(
        vertexai=False,
        api_key="bench",
        http_options=genai_types.HttpOptions(
            base_url=server.base_url,
            api_version="v1beta",
            timeout=30_000,
            retry_options=genai_types.HttpRetryOptions(attempts=1),
        ),
    )
    config = genai_types.GenerateContentConfig(automatic_continuation=False)

    async def call_gemini() -> Timing:
        return await timed(
            lambda: client.aio.models.generate_content_stream(
                model=MODELS["gemini"], contents=[{"role": "user", "parts": [{"text": PROMPT}]}], config=config
            ),
            lambda c: bool(c.text),
        )

    return call_gemini, client.aio.aclose


def adapter_for(provider: str, server: FakeProviderServer, clock: SystemClock) -> ProviderAdapter:
    if provider == "openai":
        return OpenAIChatModel(clock, TIMEOUTS, api_key="bench", base_url=server.openai_base_url)
    if provider == "groq":
        return GroqChatModel(clock, TIMEOUTS, api_key="bench", base_url=server.base_url)
    return GeminiChatModel(clock, TIMEOUTS, api_key="bench", base_url=server.base_url)


def router_over(providers: dict[str, Any], clock: SystemClock) -> ModelRouter:
    catalog = FileModelCatalog.load(None, configured_providers=providers, default_model=None)
    breakers = LocalProviderBreakers(min_calls=5, reset_after=30)
    return ModelRouter(
        providers, catalog, clock, breakers=breakers, metrics=PrometheusLlmMetrics(), unbreakable=("offline",)
    )


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered) * 1000, 3),
        "p90": round(ordered[int(len(ordered) * 0.9) - 1] * 1000, 3),
        "p99": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 3),
    }


async def compare(raw: Callable[[], Awaitable[Timing]], routed: Callable[[], Awaitable[Timing]]) -> dict[str, Any]:
    for _ in range(WARMUP):
        await raw()
        await routed()
    sdk: list[Timing] = []
    parley: list[Timing] = []
    for n in range(CALLS):
        if n % 2:  # alternate which side goes first
            sdk.append(await raw())
            parley.append(await routed())
        else:
            parley.append(await routed())
            sdk.append(await raw())
    figures: dict[str, Any] = {}
    for index, name in ((0, "ttft"), (1, "total")):
        sdk_side = summary([t[index] for t in sdk])
        parley_side = summary([t[index] for t in parley])
        overhead = statistics.median(p[index] - s[index] for p, s in zip(parley, sdk, strict=True)) * 1000
        figures[f"{name}_p50_ms_sdk"] = sdk_side["p50"]
        figures[f"{name}_p50_ms_router"] = parley_side["p50"]
        figures[f"{name}_p99_ms_sdk"] = sdk_side["p99"]
        figures[f"{name}_p99_ms_router"] = parley_side["p99"]
        figures[f"{name}_overhead_p50_ms"] = round(overhead, 3)
    return figures


async def measure() -> dict[str, Any]:
    clock = SystemClock()
    results: dict[str, Any] = {"calls_per_side": CALLS, "answer_words": len(ANSWER.split())}
    with FakeProviderServer() as server:
        for provider in ("openai", "groq", "gemini"):
            raw, close_raw = raw_sdk_call(provider, server)
            adapter = adapter_for(provider, server, clock)
            router = router_over({provider: adapter}, clock)
            request = ChatRequest(
                messages=(PromptMessage(MessageRole.USER, PROMPT),), model=f"{provider}/{MODELS[provider]}"
            )

            async def routed(router: ModelRouter = router, request: ChatRequest = request) -> Timing:
                return await timed(_opened(router.stream(request)), lambda c: isinstance(c, TextDelta))

            server.script(provider, *[Reply(text=ANSWER) for _ in range(2 * (CALLS + WARMUP))])
            figures = await compare(raw, routed)
            results.update({f"{provider}_{key}": value for key, value in figures.items()})
            await adapter.aclose()
            await close_raw()

        # The offline model: the router against the bare adapter (no network, no token delay).
        offline = OfflineChatModel(clock, token_delay_ms=0)
        offline_router = router_over({"offline": offline}, clock)
        offline_request = ChatRequest(messages=(PromptMessage(MessageRole.USER, ANSWER),), model="offline/echo")

        async def bare() -> Timing:
            return await timed(_opened(offline.stream(offline_request)), lambda c: isinstance(c, TextDelta))

        async def routed_offline() -> Timing:
            return await timed(_opened(offline_router.stream(offline_request)), lambda c: isinstance(c, TextDelta))

        figures = await compare(bare, routed_offline)
        results.update({f"offline_{key}": value for key, value in figures.items() if "overhead" in key})
    overheads = [v for k, v in results.items() if k.endswith("_overhead_p50_ms")]
    results["worst_overhead_p50_ms"] = max(overheads)
    results["goal_p50_overhead_under_1ms"] = max(overheads) < 1.0
    return results


def run() -> dict[str, Any]:
    return asyncio.run(measure())
