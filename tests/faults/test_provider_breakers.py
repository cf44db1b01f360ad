"""One broken model behind a provider that is otherwise fine (the fake OpenAI upstream answers 500 for
it): its own breaker opens, the provider's other models keep answering, and the failed sends say which
model was tried and stay marked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.chat_client import chat_user, messages_url, new_conversation, sse
from tests.e2e.conftest import RunCli
from tests.e2e.identity_client import NO_HTTP_LIMITS
from tests.fakes.llm_server import FakeProviderServer, Reply

pytestmark = pytest.mark.e2e

BROKEN, HEALTHY = "openai/gpt-4.1-nano", "openai/gpt-4.1-mini"


@pytest.fixture
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


def send_to(client: httpx.Client, headers: dict[str, str], conversation_id: str, model: str) -> list[Any]:
    body = {"content": "hello?", "model": model}
    with sse(client, "POST", messages_url(conversation_id), headers, json=body) as source:
        return list(source.iter_sse())


def test_a_broken_model_trips_only_its_own_breaker(
    run_cli: RunCli, start_server: Any, fake: FakeProviderServer
) -> None:
    assert run_cli("db", "upgrade").code == 0
    server = start_server(
        env={
            **NO_HTTP_LIMITS,
            "OPENAI_API_KEY": "sk-faults",
            "OPENAI_BASE_URL": fake.openai_base_url,
            "LLM_RETRIES": "0",
            "LLM_BREAKER_MIN_CALLS": "2",
            "LLM_BREAKER_RESET_SECONDS": "300",
        }
    )
    fake.script("openai", Reply.failing(500), Reply.failing(500), Reply(text="still here", prompt_tokens=3))
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        headers = chat_user(client, "breakers@example.com")
        conversation = new_conversation(client, headers)["id"]

        for _ in range(2):  # two failed calls of two: 100 % over the minimum, the breaker opens
            events = send_to(client, headers, conversation, BROKEN)
            ended = json.loads(events[-1].data)
            assert events[-1].event == "error"
            assert f"tried {BROKEN}: provider_" in ended["detail"], ended
        skipped = json.loads(send_to(client, headers, conversation, BROKEN)[-1].data)
        assert f"tried {BROKEN}: skipped, circuit open" in skipped["detail"], skipped
        assert len(fake.requests_for("openai")) == 2, "an open breaker makes no call"

        # The same provider's other model is not affected.
        events = send_to(client, headers, conversation, HEALTHY)
        assert events[-1].event == "done", [e.event for e in events]
        assert json.loads(events[-1].data)["content"] == "still here"

        messages = client.get(messages_url(conversation), params={"limit": 50}, headers=headers).json()["items"]
        unanswered = [m for m in messages if m["role"] == "user" and m["error_code"]]
        assert len(unanswered) == 3, messages  # the three failed sends stay marked
