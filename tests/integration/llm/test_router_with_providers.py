"""The router over the real adapters and the fake server: retries, fallbacks, breakers (shared on Redis),
metrics, and the container that wires it all."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from src.application.llm.ports import ProviderBreakers
from src.application.llm.router import ModelRouter
from src.domain.llm.errors import ProviderRateLimited, ProviderUnavailable
from src.domain.llm.model import ChatRequest, Chunk, FinishReason, MessageRole, PromptMessage, StreamEnd, TextDelta
from src.domain.llm.routing import CircuitPosition, FallbackChains, RetryPolicy
from src.infrastructure.clock import SystemClock
from src.infrastructure.container import build_container
from src.infrastructure.llm.breakers import (
    KEY_PREFIX,
    LocalProviderBreakers,
    RedisProviderBreakers,
    SharedProviderBreakers,
)
from src.infrastructure.llm.catalog import FileModelCatalog
from src.infrastructure.llm.metrics import PrometheusLlmMetrics
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.resilience import CircuitBreaker
from tests.conftest import TEST_REDIS_URL, SettingsFactory
from tests.fakes.llm_server import FakeProviderServer, Reply
from tests.integration.llm.conftest import KEYS, MODELS, AdapterFactory

CHAIN = f"{MODELS['openai']} -> {MODELS['groq']} -> {MODELS['gemini']}"


def request(model: str = MODELS["openai"]) -> ChatRequest:
    return ChatRequest(messages=(PromptMessage(MessageRole.USER, "Hello?"),), model=model)


async def collect(chunks: AsyncIterator[Chunk]) -> tuple[str, StreamEnd]:
    text: list[str] = []
    async for chunk in chunks:
        if isinstance(chunk, TextDelta):
            text.append(chunk.text)
        else:
            return "".join(text), chunk
    raise AssertionError("no StreamEnd")


@dataclass
class Routing:
    make: Callable[..., ModelRouter]


@pytest.fixture
def routing(make_adapter: AdapterFactory) -> Routing:
    def make(
        *,
        breakers: ProviderBreakers | None = None,
        retries: int = 2,
        fallbacks: str = CHAIN,
        threshold: int = 3,
    ) -> ModelRouter:
        providers = {p: make_adapter(p) for p in ("openai", "groq", "gemini")}
        catalog = FileModelCatalog.load(None, configured_providers=providers, default_model=None)
        return ModelRouter(
            providers,
            catalog,
            SystemClock(),
            breakers=breakers or LocalProviderBreakers(min_calls=threshold, reset_after=30),
            metrics=PrometheusLlmMetrics(),
            retry=RetryPolicy(max_retries=retries, base_delay=0.01, max_delay=0.02),
            fallbacks=FallbackChains.parse(fallbacks) if fallbacks else FallbackChains(),
        )

    return Routing(make)


def providers_called(fake: FakeProviderServer) -> list[str]:
    return [r.provider for r in fake.requests]


async def test_retries_reach_an_answer_after_transient_failures(fake: FakeProviderServer, routing: Routing) -> None:
    fake.script("openai", Reply(status=503), Reply(status=429, retry_after="0"), Reply(text="Third time lucky"))
    text, end = await collect(routing.make().stream(request()))
    assert text == "Third time lucky"
    assert end.model_id == MODELS["openai"]
    assert providers_called(fake) == ["openai"] * 3


async def test_retries_stop_at_the_first_delta(fake: FakeProviderServer, routing: Routing) -> None:
    fake.script("openai", Reply(text="one two three four", cut_after=2))
    text, end = await collect(routing.make().stream(request()))
    assert text == "one two"
    assert (end.finish_reason, end.error_code) == (FinishReason.ERROR, "provider_unavailable")
    assert providers_called(fake) == ["openai"], "no retry and no fallback once text was sent"


async def test_fallbacks_answer_in_chain_order_and_the_final_item_names_who_answered(
    fake: FakeProviderServer, routing: Routing
) -> None:
    fake.script("openai", *[Reply(status=503)] * 3)
    fake.script("groq", *[Reply(status=429, retry_after="0")] * 3)
    fake.script("gemini", Reply(text="Gemini to the rescue"))
    text, end = await collect(routing.make(threshold=10).stream(request()))
    assert text == "Gemini to the rescue"
    assert end.model_id == MODELS["gemini"]
    assert providers_called(fake) == ["openai"] * 3 + ["groq"] * 3 + ["gemini"]
    assert fake.requests_for("gemini")[0].path.startswith("/v1beta/models/gemini-2.5-flash:")


async def test_complete_falls_back_too(fake: FakeProviderServer, routing: Routing) -> None:
    fake.script("openai", Reply(status=401))
    completion = await routing.make().complete(request())
    assert completion.model_id == MODELS["groq"]
    assert providers_called(fake) == ["openai", "groq"], "a refused key is not retried"


async def test_a_breaker_opens_after_repeated_failures_and_closes_after_a_good_probe(
    fake: FakeProviderServer, routing: Routing
) -> None:
    now = [0.0]
    breakers = LocalProviderBreakers(min_calls=2, reset_after=30, clock=lambda: now[0])
    router = routing.make(breakers=breakers, retries=1, fallbacks="")
    fake.script("openai", Reply(status=500), Reply(status=500))
    with pytest.raises(ProviderUnavailable):
        await router.complete(request())
    assert breakers.position(MODELS["openai"]) is CircuitPosition.OPEN
    with pytest.raises(ProviderUnavailable, match="circuit breaker open"):
        await router.complete(request())
    assert len(fake.requests_for("openai")) == 2, "an open breaker makes no call"
    now[0] += 30
    assert (await router.complete(request())).model_id == MODELS["openai"]
    assert breakers.position(MODELS["openai"]) is CircuitPosition.CLOSED
    assert len(fake.requests_for("openai")) == 3


async def test_the_metrics_count_attempts_tokens_and_cost(fake: FakeProviderServer, routing: Routing) -> None:
    labels = {"provider": "groq", "model": "llama-3.3-70b-versatile"}

    def sample(name: str, **extra: str) -> float:
        return METRICS.registry.get_sample_value(name, {**labels, **extra}) or 0.0

    before_ok = sample("parley_llm_requests_total", outcome="ok")
    before_failed = sample("parley_llm_requests_total", outcome="provider_unavailable")
    before_in = sample("parley_llm_tokens_total", direction="input", estimated="false")
    before_out = sample("parley_llm_tokens_total", direction="output", estimated="false")
    before_cost = sample("parley_llm_cost_micro_dollars_total")
    before_latency = sample("parley_llm_request_duration_seconds_count")
    before_ttft = sample("parley_llm_time_to_first_token_seconds_count")

    fake.script("groq", Reply(status=503), Reply(text="Hi", prompt_tokens=1_000_000, completion_tokens=1_000_000))
    await collect(routing.make().stream(request(MODELS["groq"])))

    assert sample("parley_llm_requests_total", outcome="provider_unavailable") == before_failed + 1
    assert sample("parley_llm_requests_total", outcome="ok") == before_ok + 1
    assert sample("parley_llm_tokens_total", direction="input", estimated="false") == before_in + 1_000_000
    assert sample("parley_llm_tokens_total", direction="output", estimated="false") == before_out + 1_000_000
    # The catalog's Groq prices: $0.59 in and $0.79 out per million tokens.
    assert sample("parley_llm_cost_micro_dollars_total") == before_cost + 590_000 + 790_000
    assert sample("parley_llm_request_duration_seconds_count") == before_latency + 1
    assert sample("parley_llm_time_to_first_token_seconds_count") == before_ttft + 1


async def test_stopping_the_routers_stream_cancels_the_upstream_request(
    fake: FakeProviderServer, routing: Routing
) -> None:
    fake.script("gemini", Reply(text=" ".join(["tok"] * 300), chunk_delay=0.02))
    stream = routing.make().stream(request(MODELS["gemini"]))
    await anext(stream)
    await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    recorded = fake.requests_for("gemini")[0]
    assert await asyncio.to_thread(recorded.disconnected.wait, 5)
    assert not recorded.completed.is_set()


# -- breakers shared through Redis --------------------------------------------------------------------


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    client = Redis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def breaker_prefix() -> str:
    """Keys of this test only (each test deletes its own)."""
    return f"{KEY_PREFIX}test-{uuid.uuid4().hex[:8]}:"


@pytest.mark.redis
async def test_a_breaker_opened_by_one_instance_is_open_for_every_instance(
    fake: FakeProviderServer, routing: Routing, redis_client: Redis, breaker_prefix: str
) -> None:
    def shared() -> RedisProviderBreakers:
        return RedisProviderBreakers(redis_client, min_calls=2, reset_after=0.5, prefix=breaker_prefix)

    first, second = routing.make(breakers=shared(), retries=1), routing.make(breakers=shared(), retries=1)
    fake.script("openai", Reply(status=503), Reply(status=503))
    _, end = await collect(first.stream(request()))
    assert end.model_id == MODELS["groq"]
    assert providers_called(fake) == ["openai", "openai", "groq"]

    # The second instance never saw OpenAI fail, yet skips it.
    fake.clear()
    _, end = await collect(second.stream(request()))
    assert end.model_id == MODELS["groq"]
    assert providers_called(fake) == ["groq"]

    # Once reset_after has passed (on the Redis server's clock), one probe goes out; it closes the
    # breaker for both.
    await asyncio.sleep(0.6)
    fake.clear()
    _, end = await collect(second.stream(request()))
    assert end.model_id == MODELS["openai"]
    _, end = await collect(first.stream(request()))
    assert end.model_id == MODELS["openai"]
    assert providers_called(fake) == ["openai", "openai"]
    await redis_client.delete(breaker_prefix + MODELS["openai"])


@pytest.mark.redis
async def test_shared_breakers_open_on_the_failure_rate_of_one_model(redis_client: Redis, breaker_prefix: str) -> None:
    one = RedisProviderBreakers(redis_client, min_calls=4, failure_rate=0.5, reset_after=30, prefix=breaker_prefix)
    two = RedisProviderBreakers(redis_client, min_calls=4, failure_rate=0.5, reset_after=30, prefix=breaker_prefix)
    broken, healthy = "openai/fake-500", "openai/gpt-ok"
    for _ in range(3):
        await one.record_success(broken)
    await one.record_failure(broken)
    await two.record_failure(broken)
    assert await one.allow(broken), "2 failures of 5 calls: 40 %, under the rate"
    await two.record_failure(broken)
    assert not await one.allow(broken), "3 failures of 6 calls across instances: 50 %"
    assert not await two.allow(broken)
    assert await two.allow(healthy), "the provider's other model is not affected"
    await redis_client.delete(breaker_prefix + broken, breaker_prefix + healthy)


@pytest.mark.redis
async def test_only_one_probe_goes_out_across_instances(redis_client: Redis, breaker_prefix: str) -> None:
    one = RedisProviderBreakers(redis_client, min_calls=1, reset_after=0.2, prefix=breaker_prefix)
    two = RedisProviderBreakers(redis_client, min_calls=1, reset_after=0.2, prefix=breaker_prefix)
    await one.record_failure("p")
    assert not await two.allow("p")
    await asyncio.sleep(0.25)
    assert [await one.allow("p"), await two.allow("p")] == [True, False]
    await one.release("p")  # the probe's caller went away
    assert await two.allow("p")
    await two.record_success("p")
    assert await one.allow("p")
    assert await two.allow("p")
    assert await redis_client.ttl(breaker_prefix + "p") > 0, "breaker keys expire"
    await redis_client.delete(breaker_prefix + "p")


class CountingRedisBreakers(RedisProviderBreakers):
    """Counts the round trips to Redis."""

    trips = 0

    async def check(self, provider: str) -> tuple[bool, CircuitPosition]:
        self.trips += 1
        return await super().check(provider)

    async def record_success(self, provider: str, calls: int = 1) -> None:
        self.trips += 1
        await super().record_success(provider, calls)


def counted_shared_breakers(
    redis_client: Redis, prefix: str, **options: Any
) -> tuple[CountingRedisBreakers, SharedProviderBreakers, list[float]]:
    """Shared breakers whose Redis round trips are counted, on a monotonic clock the test moves (``now[0]``)."""
    counting = CountingRedisBreakers(redis_client, min_calls=3, reset_after=30, prefix=prefix)
    now = [100.0]
    shared = SharedProviderBreakers(
        counting,
        LocalProviderBreakers(min_calls=3, reset_after=30),
        CircuitBreaker("redis-test", failure_threshold=3, reset_after=30),
        timeout=2,
        monotonic=lambda: now[0],
        **options,
    )
    return counting, shared, now


@pytest.mark.redis
async def test_shared_breakers_spare_redis_round_trips_but_count_every_call(
    redis_client: Redis, breaker_prefix: str
) -> None:
    counting, shared, now = counted_shared_breakers(redis_client, breaker_prefix)
    model = "openai/gpt-busy"
    assert await shared.allow(model)
    assert [await shared.allow(model) for _ in range(10)] == [True] * 10
    assert counting.trips == 1, "a circuit Redis just said is closed is not asked about again at once"
    now[0] += 1.0
    assert await shared.allow(model)
    assert counting.trips == 2, "after CLOSED_VIEW_SECONDS it is asked again"

    counting.trips = 0
    await asyncio.gather(*(shared.record_success(model) for _ in range(20)))
    assert counting.trips < 20, "successes arriving together share a report"
    await shared.flush()
    stored = await redis_client.hget(breaker_prefix + model, "calls")
    assert int(stored or 0) == 20, "every call is counted"

    # A failure seen here makes the next allow ask Redis (another instance may have opened it).
    counting.trips = 0
    await shared.record_failure(model)
    await shared.allow(model)
    assert counting.trips == 1
    await redis_client.delete(breaker_prefix + model)


@pytest.mark.redis
async def test_successes_are_reported_at_most_once_per_interval_and_all_counted(
    redis_client: Redis, breaker_prefix: str
) -> None:
    counting, shared, now = counted_shared_breakers(redis_client, breaker_prefix, report_every=0.2)
    model = "openai/gpt-steady"
    key = breaker_prefix + model

    async def stored(field: str) -> int:
        return int(await redis_client.hget(key, field) or 0)

    await shared.record_success(model)
    assert (counting.trips, await stored("calls")) == (1, 1), "the first success is reported at once"
    for _ in range(10):  # one after the other, each awaited: within the interval of the last report
        await shared.record_success(model)
    assert counting.trips == 1, "successes within the interval wait for the next report"
    await asyncio.sleep(0.35)  # the timed report goes out by itself
    assert (counting.trips, await stored("calls")) == (2, 11)

    now[0] += 1.0  # the interval has passed: the next success is reported at once
    await shared.record_success(model)
    assert (counting.trips, await stored("calls")) == (3, 12)

    # A failure takes the successes waiting with it: the rate the instances see counts them.
    await shared.record_success(model)
    await shared.record_failure(model)
    assert (await stored("calls"), await stored("failures")) == (14, 1)

    # Shutdown reports what is left without waiting for the timer.
    now[0] += 1.0
    await shared.record_success(model)
    await shared.record_success(model)
    await shared.flush()
    assert await stored("calls") == 16
    trips = counting.trips
    await asyncio.sleep(0.35)
    assert counting.trips == trips, "no timed report is left after the flush"

    # A report was due when a failure sent its successes, then the flush cancelled it: the next
    # success is reported again (it is not taken for one a due report carries).
    await shared.record_success(model)  # due: within the interval
    await shared.record_failure(model)
    await shared.flush()
    now[0] += 1.0
    await shared.record_success(model)
    assert (await stored("calls"), await stored("failures")) == (19, 2)
    await redis_client.delete(key)


async def test_redis_being_down_does_not_take_model_calls_down(fake: FakeProviderServer, routing: Routing) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    client = Redis.from_url(dead, socket_connect_timeout=0.2, socket_timeout=0.2)
    local = LocalProviderBreakers(min_calls=2, reset_after=30)
    breakers = SharedProviderBreakers(
        RedisProviderBreakers(client, min_calls=2, reset_after=30),
        local,
        CircuitBreaker("redis-test-llm", failure_threshold=1, reset_after=30),
        timeout=0.5,
    )
    router = routing.make(breakers=breakers, retries=1, fallbacks="")
    text, _ = await collect(router.stream(request()))
    assert text
    # Failures are still counted, per process: the breaker still protects this instance.
    fake.script("openai", Reply(status=503), Reply(status=503))
    with pytest.raises(ProviderUnavailable):
        await router.complete(request())
    assert local.position(MODELS["openai"]) is CircuitPosition.OPEN
    with pytest.raises(ProviderUnavailable, match="circuit breaker open"):
        await router.complete(request())
    await client.aclose()


# -- the container ---------------------------------------------------------------------------------------


async def test_the_container_routes_every_configured_provider_and_closes_them(
    fake: FakeProviderServer, make_settings: SettingsFactory, sqlite_url: str
) -> None:
    settings = make_settings(
        DATABASE_URL=sqlite_url,
        OPENAI_API_KEY=KEYS["openai"],
        OPENAI_BASE_URL=fake.openai_base_url,
        GROQ_API_KEY=KEYS["groq"],
        GROQ_BASE_URL=fake.base_url,
        GEMINI_API_KEY=KEYS["gemini"],
        GEMINI_BASE_URL=fake.base_url,
        LLM_FALLBACKS=CHAIN,
        LLM_RETRIES=0,
        OFFLINE_TOKEN_DELAY_MS=0,
    )
    container = build_container(settings, role="cli")
    assert isinstance(container.chat_model, ModelRouter)
    assert set(container.llm_providers) == {"offline", "openai", "groq", "gemini"}
    assert container.model_catalog.is_available(MODELS["gemini"])
    await container.startup()
    try:
        fake.script("openai", Reply(status=503))
        _, end = await collect(container.chat_model.stream(request()))
        assert end.model_id == MODELS["groq"]
        _, offline = await collect(container.chat_model.stream(request("offline/echo")))
        assert offline.model_id == "offline/echo"
        fake.script("gemini", Reply(status=429))
        with pytest.raises(ProviderRateLimited):
            await container.chat_model.complete(request(MODELS["gemini"]))
    finally:
        await container.shutdown()
    openai = container.llm_providers["openai"]
    assert openai._client.is_closed()  # type: ignore[attr-defined]


async def test_an_openai_compatible_provider_is_configuration_only(
    fake: FakeProviderServer, make_settings: SettingsFactory, sqlite_url: str, tmp_path: Path
) -> None:
    """OPENAI_COMPATIBLE_PROVIDERS, its key variable and catalog entries make a provider Parley routes
    to under its own name, through the OpenAI adapter, with no code of its own."""
    catalog = tmp_path / "models.toml"
    catalog.write_text(
        '[[models]]\nid = "offline/echo"\ndisplay_name = "Echo"\ncontext_window = 8192\nmax_output_tokens = 2048\n'
        'input = 0.0\noutput = 0.0\ncapabilities = ["streaming", "offline"]\n\n'
        '[[models]]\nid = "mistral/mistral-small-latest"\ndisplay_name = "Mistral Small"\ncontext_window = 128000\n'
        'max_output_tokens = 8192\ninput = 0.10\noutput = 0.30\ncapabilities = ["streaming"]\n'
    )
    settings = make_settings(
        DATABASE_URL=sqlite_url,
        MODEL_CATALOG_PATH=str(catalog),
        OPENAI_COMPATIBLE_PROVIDERS=f"mistral={fake.openai_base_url}",
        MISTRAL_API_KEY="m-test-key",
        LLM_RETRIES=0,
    )
    container = build_container(settings, role="cli")
    assert set(container.llm_providers) == {"offline", "mistral"}
    assert container.model_catalog.default_model == "mistral/mistral-small-latest"
    await container.startup()
    try:
        fake.script("openai", Reply(text="Bonjour tout le monde"))
        ask = dataclasses.replace(request("mistral/mistral-small-latest"), max_output_tokens=64)
        text, end = await collect(container.chat_model.stream(ask))
        assert (text, end.model_id) == ("Bonjour tout le monde", "mistral/mistral-small-latest")
        sent = fake.requests_for("openai")[-1]
        assert sent.headers["authorization"] == "Bearer m-test-key"
        assert (sent.body["model"], sent.body["max_tokens"]) == ("mistral-small-latest", 64)
        assert "max_completion_tokens" not in sent.body
        fake.script("openai", Reply(status=503))
        with pytest.raises(ProviderUnavailable) as failed:
            await container.chat_model.complete(request("mistral/mistral-small-latest"))
        assert failed.value.provider == "mistral"
        assert "mistral/mistral-small-latest" in failed.value.detail
    finally:
        await container.shutdown()
