"""Each provider adapter, through its real SDK, against the fake server speaking that provider's wire format."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator
from typing import Any

import groq
import openai
import pytest
from openai._models import FinalRequestOptions

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
    estimate_usage,
)
from src.infrastructure.clock import SystemClock
from src.infrastructure.llm import direct_call
from src.infrastructure.llm.base import ProviderTimeouts
from src.infrastructure.llm.direct_call import DirectCall
from src.infrastructure.llm.groq import GroqChatModel
from src.infrastructure.llm.openai import OpenAIChatModel
from tests.fakes.llm_server import FakeProviderServer, Recorded, Reply
from tests.fakes.network_guard import NonLoopbackConnection
from tests.integration.llm.conftest import KEYS, MODELS, TIMEOUTS, AdapterFactory

PROVIDERS = ["openai", "groq", "gemini"]
SYSTEM = "You are terse."
QUESTION = "What is the capital of France?"


def request(provider: str, **kwargs: object) -> ChatRequest:
    messages = (
        PromptMessage(MessageRole.SYSTEM, SYSTEM),
        PromptMessage(MessageRole.USER, QUESTION),
        PromptMessage(MessageRole.ASSISTANT, "Paris."),
        PromptMessage(MessageRole.USER, "And of Italy?"),
    )
    return ChatRequest(messages=messages, model=MODELS[provider], **kwargs)  # type: ignore[arg-type]


async def collect(chunks: AsyncIterator[Chunk]) -> tuple[list[str], StreamEnd]:
    deltas: list[str] = []
    async for chunk in chunks:
        if isinstance(chunk, TextDelta):
            deltas.append(chunk.text)
        else:
            return deltas, chunk
    raise AssertionError("no StreamEnd")


# -- answers and usage ---------------------------------------------------------------------------------

#: (prompt, completion, cached, reasoning) the fake reports -> the Usage each provider's adapter must read.
EXACT_USAGE = {
    # OpenAI and Groq count reasoning tokens inside completion_tokens.
    "openai": Usage(input_tokens=21, output_tokens=7, cached_tokens=3, reasoning_tokens=2),
    "groq": Usage(input_tokens=21, output_tokens=7, cached_tokens=3, reasoning_tokens=2),
    # Gemini reports thoughts apart from candidates: both are output.
    "gemini": Usage(input_tokens=21, output_tokens=9, cached_tokens=3, reasoning_tokens=2),
}


def usage_reply(text: str = "Rome is the capital of Italy.") -> Reply:
    return Reply(text=text, prompt_tokens=21, completion_tokens=7, cached_tokens=3, reasoning_tokens=2)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stream_brings_the_text_word_by_word_and_the_exact_usage(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, usage_reply())
    deltas, end = await collect(make_adapter(provider).stream(request(provider)))
    assert deltas == ["Rome", " is", " the", " capital", " of", " Italy."]
    assert end.finish_reason is FinishReason.STOP
    assert end.usage == EXACT_USAGE[provider]
    assert not end.usage.estimated
    assert (end.provider, end.model_id) == (provider, MODELS[provider])
    assert end.ttft_ms is not None
    assert end.latency_ms >= end.ttft_ms
    assert len(fake.requests_for(provider)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_streams_one_after_another_reuse_one_keep_alive_connection(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    """Regression: reading OpenAI's and Groq's streams as lines stopped at [DONE] and closed the response
    before its end, which took the connection with it: every call opened a new one (a TLS handshake
    to a real provider)."""
    adapter = make_adapter(provider)
    before = fake.connections
    for _ in range(3):
        fake.script(provider, usage_reply())
        _, end = await collect(adapter.stream(request(provider)))
        assert end.finish_reason is FinishReason.STOP
    assert fake.connections - before == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_complete_brings_the_whole_answer_and_the_exact_usage(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, usage_reply())
    completion = await make_adapter(provider).complete(request(provider))
    assert completion.text == "Rome is the capital of Italy."
    assert completion.finish_reason is FinishReason.STOP
    assert completion.usage == EXACT_USAGE[provider]
    assert completion.model_id == MODELS[provider]
    assert not fake.requests_for(provider)[0].stream


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stream_without_usage_is_estimated_and_flagged_never_zero(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, Reply(text="Rome, of course.", send_usage=False))
    req = request(provider)
    deltas, end = await collect(make_adapter(provider).stream(req))
    assert "".join(deltas) == "Rome, of course."
    assert end.finish_reason is FinishReason.STOP
    assert end.usage == estimate_usage(req.messages, "Rome, of course.")
    assert end.usage.estimated
    assert end.usage.input_tokens > 0
    assert end.usage.output_tokens > 0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_complete_without_usage_is_estimated_and_flagged(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, Reply(text="Rome.", send_usage=False))
    completion = await make_adapter(provider).complete(request(provider))
    assert completion.usage.estimated
    assert completion.usage.output_tokens > 0


@pytest.mark.parametrize("where", ["x_groq", "chunk"])
async def test_groq_usage_comes_from_x_groq_or_the_usage_chunk_whichever_arrives(
    where: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script("groq", Reply(text="Rome.", prompt_tokens=40, completion_tokens=2, groq_usage=where))  # type: ignore[arg-type]
    _, end = await collect(make_adapter("groq").stream(request("groq")))
    assert (end.usage.input_tokens, end.usage.output_tokens, end.usage.estimated) == (40, 2, False)


async def test_gemini_streamed_usage_is_cumulative_and_never_summed(
    fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    # Ten chunks, each carrying the running totals (prompt 50 every time, candidates growing to 30).
    fake.script("gemini", Reply(text=" ".join(["word"] * 10), prompt_tokens=50, completion_tokens=30))
    deltas, end = await collect(make_adapter("gemini").stream(request("gemini")))
    assert len(deltas) == 10
    assert (end.usage.input_tokens, end.usage.output_tokens) == (50, 30)


async def test_each_sdk_sends_its_providers_wire_details(
    fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    tuned = {"temperature": 0.3, "max_output_tokens": 64, "stop": ("END",)}
    for provider in PROVIDERS:
        await collect(make_adapter(provider).stream(request(provider, **tuned)))
    openai, groq, gemini = (fake.requests_for(p)[0] for p in PROVIDERS)

    assert openai.path == "/v1/chat/completions"
    assert openai.headers["authorization"] == f"Bearer {KEYS['openai']}"
    assert openai.body["stream"] is True
    assert openai.body["stream_options"] == {"include_usage": True}
    assert openai.body["messages"][0] == {"role": "system", "content": SYSTEM}
    assert [m["role"] for m in openai.body["messages"]] == ["system", "user", "assistant", "user"]
    # A custom base URL (an OpenAI-compatible server) gets the widely known max_tokens.
    assert (openai.body["temperature"], openai.body["max_tokens"], openai.body["stop"]) == (0.3, 64, ["END"])

    assert groq.path == "/openai/v1/chat/completions"
    assert groq.headers["authorization"] == f"Bearer {KEYS['groq']}"
    assert groq.body["stream_options"] == {"include_usage": True}
    assert groq.body["max_completion_tokens"] == 64

    assert gemini.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert gemini.headers["x-goog-api-key"] == KEYS["gemini"]
    assert "authorization" not in gemini.headers
    assert gemini.body["systemInstruction"]["parts"] == [{"text": SYSTEM}]
    assert [c["role"] for c in gemini.body["contents"]] == ["user", "model", "user"]
    assert gemini.body["contents"][1]["parts"] == [{"text": "Paris."}]
    config = gemini.body["generationConfig"]
    assert (config["temperature"], config["maxOutputTokens"], config["stopSequences"]) == (0.3, 64, ["END"])


def assert_same_request(ours: Recorded, theirs: Recorded) -> None:
    """The adapter's request and the SDK's own carry the same body and headers (the host's port aside)."""
    assert ours.body == theirs.body
    assert {k: v for k, v in ours.headers.items() if k != "host"} == {
        k: v for k, v in theirs.headers.items() if k != "host"
    }


async def test_an_openai_stream_sends_what_the_sdks_own_create_sends(
    fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    """The adapter posts a body it prepares on its own lean HTTP client: the request on the wire must be the
    one ``chat.completions.create(stream=True)`` sends (path, headers, body)."""
    adapter = make_adapter("openai")
    await collect(adapter.stream(request("openai", temperature=0.2, max_output_tokens=32)))
    assert isinstance(adapter, OpenAIChatModel)
    sdk = openai.AsyncOpenAI(
        api_key=KEYS["openai"], base_url=fake.openai_base_url, max_retries=0, timeout=adapter._client.timeout
    )
    try:
        stream = await sdk.chat.completions.create(  # type: ignore[call-overload]
            model=MODELS["openai"].split("/", 1)[1],
            messages=[{"role": m.role.value, "content": m.content} for m in request("openai").messages],
            temperature=0.2,
            max_tokens=32,
            stream=True,
            stream_options={"include_usage": True},
        )
        async for _ in stream:
            pass
    finally:
        await sdk.close()
    assert adapter._completions.call is not None
    assert adapter._completions.call.pool is not None  # the lean client, not aiohttp
    ours, theirs = fake.requests_for("openai")
    assert ours.path == theirs.path == "/v1/chat/completions"
    assert_same_request(ours, theirs)


async def test_a_groq_stream_sends_what_the_sdks_own_create_sends(
    fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    """Groq's streamed call is posted by Parley too (``direct_call.py``): the same request on the wire as the
    SDK's ``chat.completions.create(stream=True)`` with ``stream_options`` (path, headers, body)."""
    adapter = make_adapter("groq")
    await collect(adapter.stream(request("groq", temperature=0.2, max_output_tokens=32)))
    assert isinstance(adapter, GroqChatModel)
    assert adapter._completions.call is not None
    assert adapter._completions.call.pool is not None  # the lean client, not aiohttp
    sdk = groq.AsyncGroq(api_key=KEYS["groq"], base_url=fake.base_url, max_retries=0, timeout=adapter._client.timeout)
    try:
        messages: Any = [{"role": m.role.value, "content": m.content} for m in request("groq").messages]
        stream: Any = await sdk.chat.completions.create(
            model=MODELS["groq"].split("/", 1)[1],
            messages=messages,
            temperature=0.2,
            max_completion_tokens=32,
            stream=True,
            extra_body={"stream_options": {"include_usage": True}},
        )
        async for _ in stream:
            pass
    finally:
        await sdk.close()
    ours, theirs = fake.requests_for("groq")
    assert ours.path == theirs.path == "/openai/v1/chat/completions"
    assert_same_request(ours, theirs)


@pytest.mark.parametrize("provider", ["openai", "groq"])
async def test_a_whole_answer_is_posted_as_the_sdks_own_create_posts_it(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    """A whole (non-streamed) answer is posted by Parley too, on the lean client, and read with msgspec: the
    request on the wire must be the one the SDK's ``chat.completions.create()`` sends, and the answer the
    same text and usage."""
    adapter = make_adapter(provider)
    fake.script(provider, Reply(text="Whole and exact.", cached_tokens=3, reasoning_tokens=2))
    ours = await adapter.complete(request(provider, temperature=0.2, max_output_tokens=32))
    assert isinstance(adapter, (OpenAIChatModel, GroqChatModel))
    assert adapter._completions.call is not None
    assert adapter._completions.call.pool is not None  # the lean client, not aiohttp
    assert ours.text == "Whole and exact."
    assert (ours.usage.input_tokens, ours.usage.cached_tokens, ours.usage.reasoning_tokens) == (17, 3, 2)
    assert not ours.usage.estimated
    messages: Any = [{"role": m.role.value, "content": m.content} for m in request(provider).messages]
    name = MODELS[provider].split("/", 1)[1]
    sdk: Any
    timeout: Any = adapter._client.timeout
    if provider == "openai":
        sdk = openai.AsyncOpenAI(api_key=KEYS["openai"], base_url=fake.openai_base_url, max_retries=0, timeout=timeout)
        arguments = {"max_tokens": 32}
    else:
        sdk = groq.AsyncGroq(api_key=KEYS["groq"], base_url=fake.base_url, max_retries=0, timeout=timeout)
        arguments = {"max_completion_tokens": 32}
    try:
        await sdk.chat.completions.create(model=name, messages=messages, temperature=0.2, **arguments)
    finally:
        await sdk.close()
    sent, theirs = fake.requests_for(provider)
    assert sent.path == theirs.path
    assert "stream" not in sent.body
    assert_same_request(sent, theirs)


@pytest.mark.parametrize("provider", ["openai", "groq"])
async def test_a_whole_answer_that_does_not_come_within_the_read_timeout_is_a_timeout(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    timeouts = ProviderTimeouts(connect=2.0, read=0.3, total=30.0, stream_idle=0.4)
    fake.script(provider, Reply(chunk_delay=2.0))
    with pytest.raises(ProviderTimeout, match=r"sent nothing for 0\.3 s"):
        await make_adapter(provider, timeouts=timeouts).complete(request(provider))


@pytest.mark.parametrize("provider", ["openai", "groq"])
async def test_a_whole_answer_larger_than_an_error_body_is_read_whole(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the answer was read as an error body is, at most 1 MiB of it, and a longer one failed to
    decode. Beyond ``MAX_ANSWER`` it is refused, not held in memory."""
    long_text = "word " * 300_000  # 1.5 MB
    fake.script(provider, Reply(text=long_text), Reply(text=long_text))
    adapter = make_adapter(provider)
    assert (await adapter.complete(request(provider))).text == long_text
    monkeypatch.setattr(direct_call, "MAX_ANSWER", 1024 * 1024)
    with pytest.raises(ProviderUnavailable, match="larger than 1 MiB"):
        await adapter.complete(request(provider))


@pytest.mark.parametrize(
    ("body", "error", "says"),
    [
        ({"choices": "not a list"}, ProviderUnavailable, "could not read"),
        ({"choices": []}, ProviderUnavailable, "no choices"),
        ({"error": {"message": "overloaded", "type": "server_error"}}, ProviderUnavailable, r"answer \(server_error\)"),
        ({"error": {"message": "slow down", "code": "rate_limit_exceeded"}}, ProviderRateLimited, "rate limiting"),
    ],
    ids=["unreadable", "no-choices", "error-in-a-200", "rate-limit-in-a-200"],
)
@pytest.mark.parametrize("provider", ["openai", "groq"])
async def test_a_whole_answer_parley_cannot_use_is_an_error(
    provider: str,
    body: dict[str, Any],
    error: type[ProviderError],
    says: str,
    fake: FakeProviderServer,
    make_adapter: AdapterFactory,
) -> None:
    fake.script(provider, Reply(body=body))
    with pytest.raises(error, match=says):
        await make_adapter(provider).complete(request(provider))


async def test_an_openai_stream_over_tls_trusts_what_the_sdk_trusts(network_guard: list[str]) -> None:
    """The lean client takes the SDK transport's TLS context (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``)
    and its connection limits, so a deployment's trust settings apply to streams as to everything else."""
    adapter = OpenAIChatModel(SystemClock(), TIMEOUTS, api_key="sk", base_url="https://llm.example.com/v1")
    try:
        direct = DirectCall.of(adapter._client, "/chat/completions", FinalRequestOptions)
        transport = adapter._client._client._transport_for_url(direct.url)  # type: ignore[arg-type]
        assert direct.pool is not None
        assert direct.pool._ssl is transport.ssl_context  # type: ignore[attr-defined]
        assert direct.pool._max_idle == transport.limits.max_keepalive_connections  # type: ignore[attr-defined]
    finally:
        await adapter.aclose()


async def test_sampling_options_reach_each_provider_in_its_own_words(
    fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    """``top_p``, ``seed`` and ``response_format`` (what the OpenAI-compatible gateway passes on)."""
    options = {"top_p": 0.5, "seed": 11, "response_format": {"type": "json_object"}}
    for provider in PROVIDERS:
        await collect(make_adapter(provider).stream(request(provider, **options)))
    openai, groq, gemini = (fake.requests_for(p)[0] for p in PROVIDERS)
    for sent in (openai, groq):
        assert (sent.body["top_p"], sent.body["seed"], sent.body["response_format"]) == (
            0.5, 11, {"type": "json_object"}
        )  # fmt: skip
    config = gemini.body["generationConfig"]
    assert (config["topP"], config["seed"], config["responseMimeType"]) == (0.5, 11, "application/json")
    # Left out, they are not sent at all (each provider's own default applies).
    fake.clear()
    for provider in PROVIDERS:
        await collect(make_adapter(provider).stream(request(provider)))
    openai, groq, gemini = (fake.requests_for(p)[0] for p in PROVIDERS)
    assert not {"top_p", "seed", "response_format"} & (set(openai.body) | set(groq.body))
    assert not {"topP", "seed", "responseMimeType"} & set(gemini.body.get("generationConfig", {}))


async def test_the_official_openai_endpoint_gets_max_completion_tokens(
    fake: FakeProviderServer, network_guard: list[str]
) -> None:
    adapter = OpenAIChatModel(SystemClock(), TIMEOUTS, api_key="sk", base_url=None)
    assert adapter._body(request("openai", max_output_tokens=5), "gpt-4.1-mini")["max_completion_tokens"] == 5
    await adapter.aclose()


@pytest.mark.parametrize(
    ("provider", "finish", "expected"),
    [
        (p, f, e)
        for p in PROVIDERS
        for f, e in (("length", FinishReason.LENGTH), ("content_filter", FinishReason.CONTENT_FILTER))
    ],
)
async def test_finish_reasons_are_translated(
    provider: str, finish: str, expected: FinishReason, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, Reply(text="Partial answer", finish_reason=finish), Reply(finish_reason=finish))
    _, end = await collect(make_adapter(provider).stream(request(provider)))
    assert end.finish_reason is expected
    assert (await make_adapter(provider).complete(request(provider))).finish_reason is expected


async def test_a_prompt_gemini_blocks_is_content_blocked(
    fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script("gemini", Reply(prompt_blocked="SAFETY"), Reply(prompt_blocked="PROHIBITED_CONTENT"))
    with pytest.raises(ContentBlocked, match="SAFETY"):
        await collect(make_adapter("gemini").stream(request("gemini")))
    with pytest.raises(ContentBlocked, match="PROHIBITED_CONTENT"):
        await make_adapter("gemini").complete(request("gemini"))


# -- failures in the middle of a stream -------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stream_cut_midway_ends_with_an_error_and_keeps_the_text(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, Reply(text="one two three four five six", cut_after=3))
    req = request(provider)
    deltas, end = await collect(make_adapter(provider).stream(req))
    assert deltas == ["one", " two", " three"]
    assert end.finish_reason is FinishReason.ERROR
    assert end.error_code == "provider_unavailable"
    if provider == "gemini":
        # Gemini's running totals came with every chunk: what was generated is known.
        assert end.usage == Usage(input_tokens=17, output_tokens=3)
    else:
        assert end.usage == estimate_usage(req.messages, "one two three")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stream_cut_before_any_text_raises_so_it_can_be_retried(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, Reply(cut_after=0))
    with pytest.raises(ProviderUnavailable):
        await collect(make_adapter(provider).stream(request(provider)))


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stream_that_stalls_ends_as_a_timeout_and_the_connection_is_closed(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, Reply(text="one two three four", stall_after=2))
    deltas, end = await collect(make_adapter(provider).stream(request(provider)))
    assert deltas == ["one", " two"]
    assert (end.finish_reason, end.error_code) == (FinishReason.ERROR, "provider_timeout")
    assert "sent nothing for 0.4 s" in (end.error_detail or "")
    assert await asyncio.to_thread(fake.requests_for(provider)[0].disconnected.wait, 5), (
        "the provider must see the connection close"
    )


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stream_that_stalls_before_any_text_raises_a_timeout(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, Reply(stall_after=0))
    with pytest.raises(ProviderTimeout):
        await collect(make_adapter(provider).stream(request(provider)))


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_error_event_inside_the_stream_is_mapped(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, Reply(text="one two three", error_event_after=2), Reply(error_event_after=0))
    deltas, end = await collect(make_adapter(provider).stream(request(provider)))
    assert deltas == ["one", " two"]
    assert (end.finish_reason, end.error_code) == (FinishReason.ERROR, "provider_unavailable")
    with pytest.raises(ProviderUnavailable):
        await collect(make_adapter(provider).stream(request(provider)))


@pytest.mark.parametrize("provider", ["openai", "groq"])
async def test_a_rate_limit_error_event_is_a_rate_limit(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, Reply(error_event_after=0, error_event_type="rate_limit_error"))
    with pytest.raises(ProviderRateLimited):
        await collect(make_adapter(provider).stream(request(provider)))


# -- HTTP errors --------------------------------------------------------------------------------------------


def context_too_long(provider: str) -> Reply:
    if provider == "gemini":
        return Reply(
            status=400,
            error_message="The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        )
    return Reply(
        status=400,
        error_code="context_length_exceeded",
        error_message="This model's maximum context length is 128000 tokens.",
    )


ERRORS = [
    (401, ProviderAuthError),
    (403, ProviderAuthError),
    (404, ProviderBadRequest),
    (500, ProviderUnavailable),
    (503, ProviderUnavailable),
]


@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "complete"])
@pytest.mark.parametrize(("status", "error"), ERRORS)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_http_errors_map_into_the_domain_and_the_sdk_never_retries(
    provider: str,
    status: int,
    error: type[ProviderError],
    streamed: bool,
    fake: FakeProviderServer,
    make_adapter: AdapterFactory,
) -> None:
    fake.script(provider, Reply(status=status))
    adapter = make_adapter(provider)

    async def call() -> object:
        if streamed:
            return await collect(adapter.stream(request(provider)))
        return await adapter.complete(request(provider))

    with pytest.raises(error) as caught:
        await call()
    assert caught.value.provider == provider
    assert str(status) in caught.value.detail
    assert len(fake.requests_for(provider)) == 1, "SDK-level retries must be off"


@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "complete"])
async def test_an_openai_call_answered_with_a_redirect_does_not_follow_it(
    streamed: bool, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    """The key is not sent wherever a redirect points; the operator is told to fix the base URL."""
    fake.script("openai", Reply(status=307, headers={"location": "http://elsewhere.invalid/v1/chat/completions"}))
    adapter = make_adapter("openai")

    async def call() -> object:
        if streamed:
            return await collect(adapter.stream(request("openai")))
        return await adapter.complete(request("openai"))

    with pytest.raises(ProviderUnavailable, match=r"redirect \(307\)"):
        await call()
    assert len(fake.requests_for("openai")) == 1


async def test_a_stream_through_the_sdks_aiohttp_session_does_not_follow_a_redirect_either(
    fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    """The path a proxy takes (the SDK transport's aiohttp session, which follows redirects by default)
    refuses a redirect as the lean client does."""
    adapter = make_adapter("openai")
    await collect(adapter.stream(request("openai")))
    assert isinstance(adapter, OpenAIChatModel)
    assert adapter._completions.call is not None
    adapter._completions.call = dataclasses.replace(adapter._completions.call, pool=None)  # the aiohttp session's path
    fake.clear()
    fake.script("openai", Reply(status=307, headers={"location": "http://elsewhere.invalid/v1/chat/completions"}))
    with pytest.raises(ProviderUnavailable, match=r"redirect \(307\)"):
        await collect(adapter.stream(request("openai")))
    assert len(fake.requests_for("openai")) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_429_is_rate_limited_with_the_providers_retry_after(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, Reply(status=429, retry_after="7"), Reply(status=429, retry_after="2"))
    with pytest.raises(ProviderRateLimited) as caught:
        await collect(make_adapter(provider).stream(request(provider)))
    assert caught.value.retry_after == 7.0
    assert caught.value.extra["retry_after"] == 7.0
    with pytest.raises(ProviderRateLimited) as again:
        await make_adapter(provider).complete(request(provider))
    assert again.value.retry_after == 2.0
    assert len(fake.requests_for(provider)) == 2


async def test_gemini_says_when_to_retry_in_its_retry_info_too(
    fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script("gemini", Reply(status=429, retry_delay="13s"))
    with pytest.raises(ProviderRateLimited) as caught:
        await make_adapter("gemini").complete(request("gemini"))
    assert caught.value.retry_after == 13.0


async def test_a_bad_gemini_key_arrives_as_400_api_key_invalid_and_is_an_auth_error(
    fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script("gemini", Reply.gemini_bad_key(), Reply.gemini_bad_key())
    with pytest.raises(ProviderAuthError):
        await collect(make_adapter("gemini").stream(request("gemini")))
    with pytest.raises(ProviderAuthError):
        await make_adapter("gemini").complete(request("gemini"))
    # Another 400 is the request's fault, not the key's.
    fake.script("gemini", Reply(status=400, error_message="Invalid value at 'generation_config.temperature'"))
    with pytest.raises(ProviderBadRequest):
        await make_adapter("gemini").complete(request("gemini"))


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_conversation_too_long_for_the_model_says_so(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, context_too_long(provider))
    with pytest.raises(ProviderBadRequest) as caught:
        await collect(make_adapter(provider).stream(request(provider)))
    assert caught.value.context_too_long
    assert caught.value.extra["context_too_long"] is True


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_unreachable_provider_is_unavailable(provider: str, make_adapter: AdapterFactory) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}" + ("/v1" if provider == "openai" else "")
    with pytest.raises(ProviderUnavailable):
        await make_adapter(provider, base=base).complete(request(provider))
    with pytest.raises(ProviderUnavailable):
        await collect(make_adapter(provider, base=base).stream(request(provider)))


async def test_an_openai_stream_that_cannot_connect_in_time_is_a_timeout(make_adapter: AdapterFactory) -> None:
    """The lean client's own connect timeout (the SDK's ``connect``) is a timeout, not a failure."""
    with socket.socket() as full:  # a listener whose queue is full: the next handshake never ends
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        with socket.create_connection(full.getsockname(), timeout=1):
            timeouts = ProviderTimeouts(connect=0.2, read=5.0, total=30.0, stream_idle=5.0)
            base = f"http://127.0.0.1:{full.getsockname()[1]}/v1"
            with pytest.raises(ProviderTimeout, match="did not answer in time"):
                await collect(make_adapter("openai", base=base, timeouts=timeouts).stream(request("openai")))


async def test_an_adapter_refuses_another_providers_model(make_adapter: AdapterFactory) -> None:
    with pytest.raises(UnknownModel):
        await collect(make_adapter("openai").stream(request("gemini")))


# -- cancellation ---------------------------------------------------------------------------------------------

LONG_ANSWER = " ".join(f"word{n}" for n in range(200))


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_closing_the_stream_closes_the_connection_at_once_and_the_provider_stops(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, Reply(text=LONG_ANSWER, chunk_delay=0.02))
    stream = make_adapter(provider).stream(request(provider))
    assert await anext(stream) == TextDelta("word0")
    assert await anext(stream) == TextDelta(" word1")
    await stream.aclose()  # type: ignore[attr-defined]
    recorded = fake.requests_for(provider)[0]
    assert await asyncio.to_thread(recorded.disconnected.wait, 5), "the provider must see the connection close"
    assert not recorded.completed.is_set()
    sent = recorded.chunks_sent
    await asyncio.sleep(0.1)
    assert recorded.chunks_sent == sent < 200, "no tokens may keep flowing once Parley stopped reading"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_cancelling_the_reader_closes_the_connection_at_once(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    fake.script(provider, Reply(text=LONG_ANSWER, chunk_delay=0.02))
    adapter = make_adapter(provider)
    got_two = asyncio.Event()
    seen: list[str] = []

    async def read() -> None:
        async for chunk in adapter.stream(request(provider)):
            if isinstance(chunk, TextDelta):
                seen.append(chunk.text)
                if len(seen) == 2:
                    got_two.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(got_two.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    recorded = fake.requests_for(provider)[0]
    assert await asyncio.to_thread(recorded.disconnected.wait, 5), "the provider must see the connection close"
    assert not recorded.completed.is_set()


async def test_the_adapters_reuse_one_connection_across_calls(
    fake: FakeProviderServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter("openai")
    for _ in range(3):
        await collect(adapter.stream(request("openai")))
        await adapter.complete(request("openai"))
    assert len(fake.requests_for("openai")) == 6


# -- the network guard ------------------------------------------------------------------------------------


async def test_no_test_here_can_reach_the_internet(network_guard: list[str]) -> None:
    # An adapter left on its default base URL fails at once instead of calling the real provider.
    adapter = OpenAIChatModel(SystemClock(), TIMEOUTS, api_key="sk-real-looking", base_url=None)
    try:
        with pytest.raises(ProviderUnavailable):
            await adapter.complete(request("openai"))
    finally:
        await adapter.aclose()
    assert "api.openai.com" in network_guard
    with socket.socket() as sock, pytest.raises(NonLoopbackConnection):
        sock.connect(("203.0.113.7", 443))


# -- proxies -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "groq"])
async def test_a_proxy_from_the_environment_carries_the_calls(
    provider: str, fake: FakeProviderServer, make_adapter: AdapterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDKs' aiohttp transport still honours ``HTTP_PROXY`` (a deployment behind an egress proxy)."""
    seen: list[bytes] = []

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A forward proxy for plain HTTP: the request line names the whole URL; pass the bytes on.
        head = await reader.readuntil(b"\r\n\r\n")
        line, rest = head.split(b"\r\n", 1)
        seen.append(line)
        method, url, version = line.split(b" ")
        path = b"/" + url.split(b"://", 1)[1].split(b"/", 1)[1]  # origin-form for the server
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", fake.port)
        upstream_writer.write(b" ".join((method, path, version)) + b"\r\n" + rest)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer), return_exceptions=True)

    proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    try:
        fake.script(provider, Reply(text="through the proxy"), Reply(text="streamed through it"))
        answer = await make_adapter(provider).complete(request(provider))
        assert answer.text == "through the proxy"
        assert seen, "the call did not go through the proxy"
        assert seen[0].startswith(b"POST http://127.0.0.1:")
        # A stream too (OpenAI's is posted on the SDK transport's aiohttp session, with its proxy); on a
        # new adapter's connection: this proxy relays one request per connection.
        deltas, end = await collect(make_adapter(provider).stream(request(provider)))
        assert ("".join(deltas), end.error_code) == ("streamed through it", None)
        assert len(seen) == 2, "the stream did not go through the proxy"
    finally:
        proxy.close()
