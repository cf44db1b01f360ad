"""The OpenAI-compatible gateway (``/v1``) through the official ``openai`` SDK, sync and async, against a
running ``parley serve`` whose upstream is the local wire-format fake (tests/fakes/llm_server.py)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.e2e.chat_client import chat_user
from tests.e2e.conftest import RunCli, Server
from tests.e2e.identity_client import ADMIN_EMAIL, ADMIN_PASSWORD, bearer, serve, sign_in
from tests.fakes.llm_server import FakeProviderServer, Reply

pytestmark = pytest.mark.e2e

MODEL = "openai/gpt-4.1-mini"
FALLBACK = "groq/llama-3.1-8b-instant"
#: $0.40 input, $0.10 cached input, $1.60 output per million tokens (models.toml).
GPT_41_MINI = (400_000, 100_000, 1_600_000)


@pytest.fixture(scope="module")
def provider_server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def fake(provider_server: FakeProviderServer) -> Iterator[FakeProviderServer]:
    provider_server.clear()
    yield provider_server
    provider_server.clear()


def providers_env(fake: FakeProviderServer, **extra: str) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": "sk-e2e",
        "OPENAI_BASE_URL": fake.openai_base_url,
        "GROQ_API_KEY": "gsk-e2e",
        "GROQ_BASE_URL": fake.base_url,
        "LLM_FALLBACKS": f"{MODEL} -> {FALLBACK}",
        "LLM_RETRY_BASE_DELAY": "0.01",
        "LLM_RETRY_MAX_DELAY": "0.02",
        **extra,
    }


def api_key(server: Server, email: str) -> tuple[str, str, dict[str, str]]:
    """A new user's API key: (the key, its id, the user's access-token headers)."""
    with httpx.Client(base_url=server.base_url, timeout=20) as client:
        headers = chat_user(client, email)
        created = client.post("/api/v1/api-keys", json={"name": "sdk"}, headers=headers)
        assert created.status_code == 201, created.text
        return created.json()["key"], created.json()["id"], headers


def sdk(server: Server, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{server.base_url}/v1", max_retries=0, timeout=20)


def async_sdk(server: Server, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=f"{server.base_url}/v1", max_retries=0, timeout=20)


def usage_of(server: Server, headers: dict[str, str], group_by: str = "api_key") -> dict[str, Any]:
    response = httpx.get(f"{server.base_url}/api/v1/usage", params={"group_by": group_by}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cost(prompt: int, cached: int, completion: int) -> int:
    fresh_price, cached_price, output_price = GPT_41_MINI
    total = (prompt - cached) * fresh_price + cached * cached_price + completion * output_price
    return -(-total // 1_000_000)


def wait_until(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the condition was not met in time")


def test_the_sdk_gets_every_field_streamed_and_not_and_the_usage_is_recorded_with_the_key(
    run_cli: RunCli, start_server: Any, fake: FakeProviderServer
) -> None:
    server = serve(run_cli, start_server, **providers_env(fake))
    key, key_id, headers = api_key(server, "sdk.user@example.com")
    client = sdk(server, key)
    fake.script(
        "openai",
        Reply(text="Paris is the capital.", prompt_tokens=21, completion_tokens=9, cached_tokens=5, reasoning_tokens=3),
    )

    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Capital of "}, {"type": "text", "text": "France?"}]},
        ],
        temperature=0.3,
        top_p=0.9,
        max_tokens=50,
        stop=["\n\n"],
        seed=7,
        user="end-user-1",
        response_format={"type": "json_object"},
        extra_body={"frobnicate": True, "logit_bias": {}},  # unknown fields are ignored, as OpenAI does
    )
    assert raw.headers["content-type"] == "application/json"
    timing = raw.headers["server-timing"]
    assert timing.startswith("parley;dur=")
    assert float(timing.removeprefix("parley;dur=")) >= 0
    completion = raw.parse()
    assert completion.id.startswith("chatcmpl-")
    assert len(completion.id) > len("chatcmpl-") + 10
    assert completion.object == "chat.completion"
    assert abs(completion.created - time.time()) < 60
    assert completion.model == MODEL
    assert completion.system_fingerprint is None
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert (choice.index, choice.finish_reason) == (0, "stop")
    assert (choice.message.role, choice.message.content) == ("assistant", "Paris is the capital.")
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (
        21,
        9,
        30,
    )
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 5
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 3
    upstream = fake.requests_for("openai")[-1].body
    assert upstream["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert upstream["model"] == "gpt-4.1-mini"
    assert (upstream["temperature"], upstream["top_p"], upstream["seed"]) == (0.3, 0.9, 7)
    assert upstream["max_tokens"] == 50
    assert upstream["stop"] == ["\n\n"]
    assert upstream["response_format"] == {"type": "json_object"}
    assert "frobnicate" not in upstream

    fake.script("openai", Reply(text="One two three four", prompt_tokens=12, completion_tokens=4))
    chunks = list(
        client.chat.completions.create(
            model="gpt-4.1-mini",  # the short alias
            messages=[{"role": "user", "content": "Count"}],
            stream=True,
            stream_options={"include_usage": True},
            max_completion_tokens=20,
        )
    )
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].id.startswith("chatcmpl-")
    assert all(c.object == "chat.completion.chunk" and c.model == MODEL for c in chunks)
    assert all(c.system_fingerprint is None for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "One two three four"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert all(c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (12, 4, 16)
    assert fake.requests_for("openai")[-1].body["max_tokens"] == 20

    # Without include_usage there is no usage chunk; the stream still ends with [DONE].
    with httpx.stream(
        "POST",
        f"{server.base_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi there"}], "stream": True},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["server-timing"].startswith("parley;dur=")
        events = [line for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert all("usage" not in p and p["choices"] for p in payloads)

    # Every call is in the user's usage, under the key it was made with, cost from the catalog prices.
    report = usage_of(server, headers)
    assert [item["key"] for item in report["items"]] == [key_id]
    by_key = report["items"][0]
    default_reply = Reply()
    assert by_key["requests"] == 3
    assert by_key["input_tokens"] == 21 + 12 + default_reply.prompt_tokens
    assert by_key["output_tokens"] == 9 + 4 + default_reply.completion_count()
    assert by_key["cached_tokens"] == 5
    assert by_key["reasoning_tokens"] == 3
    expected_cost = (
        cost(21, 5, 9) + cost(12, 0, 4) + cost(default_reply.prompt_tokens, 0, default_reply.completion_count())
    )
    assert by_key["cost_micros"] == expected_cost
    assert usage_of(server, headers, "model")["items"][0]["key"] == MODEL

    cli = run_cli("usage", "sdk.user@example.com", "--by", "api_key", "--json")
    assert cli.code == 0, cli.stderr
    printed = json.loads(cli.stdout)
    assert printed["items"][0]["key"] == key_id
    assert printed["items"][0]["requests"] == 3
    assert printed["totals"]["cost_micros"] == expected_cost
    table = run_cli("usage", "sdk.user@example.com", "--by", "api_key")
    assert key_id in table.stdout
    assert "budget:" in table.stdout


def test_the_async_sdk_streams_an_access_token_works_and_store_saves_a_conversation(
    run_cli: RunCli, start_server: Any, fake: FakeProviderServer
) -> None:
    server = serve(run_cli, start_server, **providers_env(fake))
    _, _, headers = api_key(server, "async.user@example.com")
    access_token = headers["Authorization"].removeprefix("Bearer ")

    async def scenario() -> tuple[str, str, Any]:
        async with async_sdk(server, access_token) as client:
            fake.script("openai", Reply(text="streamed async answer", prompt_tokens=8, completion_tokens=3))
            stream = await client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "stream please"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
            fake.script("openai", Reply(text="stored answer", prompt_tokens=10, completion_tokens=2))
            stored = await client.chat.completions.create(
                model=MODEL,
                messages=[
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": "first question"},
                    {"role": "assistant", "content": "first answer"},
                    {"role": "user", "content": "second question"},
                ],
                store=True,
            )
            models = await client.models.list()
            return "".join(parts), stored.choices[0].message.content or "", models

    text, stored_text, models = asyncio.run(scenario())
    assert text == "streamed async answer"
    assert stored_text == "stored answer"
    assert MODEL in [m.id for m in models.data]
    assert "offline/echo" in [m.id for m in models.data]
    assert all(m.object == "model" for m in models.data)

    conversations = httpx.get(f"{server.base_url}/api/v1/conversations", headers=headers).json()["items"]
    assert len(conversations) == 1
    conversation = conversations[0]
    assert conversation["system_prompt"] == "You are terse."
    messages = httpx.get(
        f"{server.base_url}/api/v1/conversations/{conversation['id']}/messages", headers=headers
    ).json()["items"]
    assert [(m["role"], m["content"]) for m in reversed(messages)] == [
        ("user", "first question"),
        ("assistant", "first answer"),
        ("user", "second question"),
        ("assistant", "stored answer"),
    ]
    assert messages[0]["usage"]["input_tokens"] == 10
    # Made with an access token: counted, under no API key.
    report = usage_of(server, headers)
    assert [(i["key"], i["requests"]) for i in report["items"]] == [("no_api_key", 2)]


def test_each_error_is_the_sdks_matching_exception(
    run_cli: RunCli, start_server: Any, fake: FakeProviderServer
) -> None:
    server = serve(run_cli, start_server, **providers_env(fake))
    key, _, headers = api_key(server, "errors.user@example.com")
    client = sdk(server, key)
    hello: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]

    with pytest.raises(openai.AuthenticationError) as bad_key:
        sdk(server, "pk_not_a_real_key").chat.completions.create(model=MODEL, messages=hello)
    assert bad_key.value.status_code == 401
    assert bad_key.value.code == "invalid_api_key"
    assert bad_key.value.type == "invalid_request_error"

    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="openai/gpt-9", messages=hello)
    assert unknown.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
    assert client.models.retrieve("gpt-4.1-mini").id == MODEL
    assert client.models.retrieve(MODEL).owned_by == "openai"

    with pytest.raises(openai.BadRequestError) as two_choices:
        client.chat.completions.create(model=MODEL, messages=hello, n=2)
    assert (two_choices.value.code, two_choices.value.param) == ("invalid_value", "n")
    assert two_choices.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as bad_type:
        # A temperature of the wrong type, which the SDK's types refuse: sent as is through extra_body.
        client.chat.completions.create(model=MODEL, messages=hello, extra_body={"temperature": "hot"})
    assert bad_type.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as tool_role:
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "tool", "content": "x", "tool_call_id": "1"}],
        )
    assert tool_role.value.param == "messages[0].role"
    assert fake.requests_for("openai") == []  # refused requests never reach a provider

    # Every model of the chain fails before the first chunk: a bad gateway.
    fake.script("openai", *[Reply.failing(500)] * 3)
    fake.script("groq", *[Reply.failing(503)] * 3)
    with pytest.raises(openai.InternalServerError) as chain_failed:
        client.chat.completions.create(model=MODEL, messages=hello, stream=True)
    assert chain_failed.value.status_code == 502
    assert len(fake.requests_for("openai")) == 3
    assert len(fake.requests_for("groq")) == 3
    assert usage_of(server, headers)["items"] == []  # nothing answered: nothing charged

    # The month's budget is spent: 429 insufficient_quota, and the SDK is told not to retry.
    assert run_cli("users", "set-budget", "errors.user@example.com", "0").code == 0
    retrying = openai.OpenAI(api_key=key, base_url=f"{server.base_url}/v1", max_retries=2, timeout=20)
    fake.clear()
    with pytest.raises(openai.RateLimitError) as spent:
        retrying.chat.completions.create(model=MODEL, messages=hello)
    assert spent.value.code == "insufficient_quota"
    assert spent.value.type == "insufficient_quota"
    assert spent.value.response.headers["x-should-retry"] == "false"
    assert fake.requests_for("openai") == []


def test_fallback_before_the_first_chunk_and_an_error_after_it(
    run_cli: RunCli, start_server: Any, fake: FakeProviderServer
) -> None:
    server = serve(run_cli, start_server, **providers_env(fake))
    key, _, headers = api_key(server, "fallback.user@example.com")
    client = sdk(server, key)
    hello: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]

    # OpenAI refuses Parley's key (no retry; the chain goes on): Groq answers, the client never knows.
    fake.script("openai", Reply.failing(401))
    fake.script("groq", Reply(text="groq to the rescue", prompt_tokens=6, completion_tokens=4))
    chunks = list(
        client.chat.completions.create(model=MODEL, messages=hello, stream=True, stream_options={"include_usage": True})
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "groq to the rescue"
    assert chunks[-1].model == FALLBACK  # the usage chunk names the model that answered
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 10
    fake.script("openai", Reply.failing(401))
    fake.script("groq", Reply(text="again from groq", prompt_tokens=6, completion_tokens=3))
    whole = client.chat.completions.create(model=MODEL, messages=hello)
    assert (whole.model, whole.choices[0].message.content) == (FALLBACK, "again from groq")

    # The provider fails after two chunks: the stream ends with an OpenAI error event, the text is charged.
    fake.script("openai", Reply(text="one two three four five", error_event_after=2))
    received: list[str] = []

    def read_all() -> None:
        for chunk in client.chat.completions.create(model=MODEL, messages=hello, stream=True):
            received.extend(c.delta.content or "" for c in chunk.choices)

    with pytest.raises(openai.APIError) as broken:
        read_all()
    assert "".join(received) == "one two"
    assert broken.value.type == "server_error"
    report = usage_of(server, headers, "model")
    by_model = {i["key"]: i for i in report["items"]}
    assert by_model[FALLBACK]["requests"] == 2
    assert by_model[MODEL]["requests"] == 1
    assert by_model[MODEL]["output_tokens"] >= 2  # estimated from the text that was sent

    # The admin analytics see the fallbacks, the error and the timing of each call, ...
    with httpx.Client(base_url=server.base_url, timeout=20) as http:
        admin = bearer(sign_in(http, ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"])
        response = http.get("/api/v1/admin/analytics/usage", params={"group_by": "model"}, headers=admin)
    assert response.status_code == 200, response.text
    analytics = {i["key"]: i for i in response.json()["items"]}
    assert (analytics[FALLBACK]["fallbacks"], analytics[FALLBACK]["errors"]) == (2, 0)
    assert (analytics[MODEL]["fallbacks"], analytics[MODEL]["errors"]) == (0, 1)
    assert analytics[FALLBACK]["latency_p50_ms"] is not None
    assert analytics[MODEL]["ttft_p50_ms"] is not None  # a stream: its first chunk was timed
    assert response.json()["totals"]["cost_micros"] == sum(i["cost_micros"] for i in report["items"])
    # ... and so does `parley usage report`, as CSV.
    csv_report = run_cli("usage", "report", "--by", "model", "--csv")
    assert csv_report.code == 0, csv_report.stderr
    rows = {row["model"]: row for row in csv.DictReader(io.StringIO(csv_report.stdout))}
    assert (rows[FALLBACK]["requests"], rows[FALLBACK]["fallbacks"]) == ("2", "2")
    assert (rows[MODEL]["errors"], rows["total"]["requests"]) == ("1", "3")
    assert rows["total"]["cost_micros"] == str(response.json()["totals"]["cost_micros"])


def test_a_client_that_hangs_up_cancels_the_upstream_call_and_is_charged_once(
    run_cli: RunCli, start_server: Any, fake: FakeProviderServer
) -> None:
    server = serve(run_cli, start_server, **providers_env(fake))
    key, _, headers = api_key(server, "leaver@example.com")
    words = " ".join(f"w{i}" for i in range(200))
    fake.script("openai", Reply(text=words, chunk_delay=0.05))
    with httpx.stream(
        "POST",
        f"{server.base_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": MODEL, "messages": [{"role": "user", "content": "talk"}], "stream": True},
        timeout=20,
    ) as response:
        lines = response.iter_lines()
        read = [line for _, line in zip(range(6), lines, strict=False)]
    assert any("w0" in line for line in read)
    upstream = fake.requests_for("openai")[0]
    assert upstream.disconnected.wait(10), "the upstream call was not cancelled"
    assert upstream.chunks_sent < 200
    report = wait_until(lambda: (r := usage_of(server, headers))["items"] and r)
    charged = report["items"][0]
    assert charged["requests"] == 1
    assert 0 < charged["output_tokens"] < 200
    # Charged once: nothing more arrives later.
    time.sleep(0.5)
    assert usage_of(server, headers)["items"][0]["requests"] == 1


@pytest.mark.postgres
@pytest.mark.redis
def test_the_ai_rate_limit_is_shared_by_two_instances(
    run_cli: RunCli, start_server: Any, fake: FakeProviderServer, postgres_url: str, redis_url: str
) -> None:
    shared = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, **providers_env(fake)}
    migrated = run_cli("db", "upgrade", env=shared)
    assert migrated.code == 0, migrated.stderr
    first = serve(run_cli, start_server, **shared, RATE_LIMIT_ENABLED="true")
    second = start_server(env={**shared, "RATE_LIMIT_ENABLED": "true"})
    key, _, headers = api_key(first, "limited@example.com")
    clients = [sdk(first, key), sdk(second, key)]
    hello: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
    for index in range(20):  # the free tier's 20 AI requests a minute, half on each instance
        clients[index % 2].chat.completions.create(model=MODEL, messages=hello)
    for client in clients:
        with pytest.raises(openai.RateLimitError) as limited:
            client.chat.completions.create(model=MODEL, messages=hello)
        assert limited.value.code == "rate_limit_exceeded"
        assert int(limited.value.response.headers["retry-after"]) >= 1
    assert len(fake.requests_for("openai")) == 20
    assert usage_of(second, headers)["items"][0]["requests"] == 20
