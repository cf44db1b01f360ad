"""PII_REDACTION through chat: the provider (the local fake OpenAI server) never sees the user's
personal data with ``input``, the user gets it back in the reply; ``output`` masks what the model
writes, in the streamed deltas and in the stored reply alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import SettingsFactory
from tests.fakes.llm_server import FakeProviderServer, Reply
from tests.integration.ai.test_chat_guards import chat_api, send


@pytest.fixture
def provider() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


def settings_for(make_settings: SettingsFactory, url: str, provider: FakeProviderServer, mode: str):  # type: ignore[no-untyped-def]
    return make_settings(
        DATABASE_URL=url,
        RATE_LIMIT_ENABLED="false",
        OPENAI_API_KEY="sk-test-fake",
        OPENAI_BASE_URL=provider.openai_base_url,
        DEFAULT_MODEL="openai/gpt-4.1-mini",
        LLM_RETRIES="0",
        PII_REDACTION=mode,
    )


async def test_input_mode_hides_personal_data_from_the_provider(
    make_settings: SettingsFactory, sqlite_url: str, provider: FakeProviderServer
) -> None:
    provider.script("openai", Reply(text="I will write to [EMAIL_1] about card [CARD_1] today."))
    async with chat_api(settings_for(make_settings, sqlite_url, provider, "input")) as (client, _):
        _, sent = await send(client, "Mail ada@example.com about 4111 1111 1111 1111 please")
        assert sent.status_code == 201, sent.text
        reply = sent.json()["assistant_message"]["content"]
        assert reply == "I will write to ada@example.com about card 4111 1111 1111 1111 today."
    (request,) = provider.requests_for("openai")
    seen = " ".join(m["content"] for m in request.body["messages"])
    assert "ada@example.com" not in seen
    assert "4111" not in seen
    assert "Mail [EMAIL_1] about [CARD_1] please" in seen


async def test_output_mode_masks_streamed_replies(
    make_settings: SettingsFactory, sqlite_url: str, provider: FakeProviderServer
) -> None:
    provider.script("openai", Reply(text="Call +44 20 7946 0958 or pay with 4111 1111 1111 1111 now."))
    async with chat_api(settings_for(make_settings, sqlite_url, provider, "output")) as (client, _):
        conversation = (await client.post("/api/v1/conversations", json={})).json()["id"]
        async with client.stream(
            "POST",
            f"/api/v1/conversations/{conversation}/messages",
            json={"content": "How do I reach you?"},
            headers={"Accept": "text/event-stream"},
        ) as response:
            body = "".join([chunk async for chunk in response.aiter_text()])
        assert "4111" not in body
        assert "7946" not in body
        listed = (await client.get(f"/api/v1/conversations/{conversation}/messages")).json()["items"]
        stored = next(m for m in listed if m["role"] == "assistant")["content"]
        assert stored == "Call [PHONE] or pay with [CARD] now."
