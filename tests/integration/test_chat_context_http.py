"""The context cap and the running summary through the whole app (in this process), on SQLite and
PostgreSQL: PATCH sets the conversation's cap and summary switch, a scripted model records what each
reply was sent, and the summary job runs through the outbox and the in-process job runner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from src.domain.chat.context import message_tokens
from src.domain.chat.summary import SUMMARY_NOTE_HEADER
from src.domain.llm.model import MessageRole, PromptMessage
from src.infrastructure.container import build_container
from src.infrastructure.persistence.migrator import Migrator
from src.interfaces.http.app import create_app
from tests.accounts import sign_up
from tests.conftest import SettingsFactory
from tests.fakes.chat import ScriptedChatModel

PASSWORD = "violet-harbour-lantern-93"


@dataclass
class Api:
    client: AsyncTestClient[Litestar]
    model: ScriptedChatModel
    headers: dict[str, str]

    async def patch(self, conversation_id: str, body: dict[str, Any]) -> Any:
        return await self.client.patch(f"/api/v1/conversations/{conversation_id}", json=body, headers=self.headers)

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/conversations/{conversation_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def say(self, conversation_id: str, content: str) -> tuple[PromptMessage, ...]:
        """Send a message (JSON: the reply is stored when it answers); what the model was sent."""
        response = await self.client.post(
            f"/api/v1/conversations/{conversation_id}/messages", json={"content": content}, headers=self.headers
        )
        assert response.status_code in (200, 201), response.text
        return self.model.requests[-1].messages


@pytest.fixture
async def api(make_settings: SettingsFactory, database_url: str) -> AsyncIterator[Api]:
    settings = make_settings(DATABASE_URL=database_url, RATE_LIMIT_ENABLED="false", CHAT_CONTEXT_TOKENS="400")
    await asyncio.to_thread(Migrator(settings).upgrade)
    model = ScriptedChatModel()
    container = build_container(settings, role="api", chat_model=model)
    async with AsyncTestClient(create_app(settings, container)) as client:
        tokens = await sign_up(client, ("ada",), PASSWORD)
        yield Api(client, model, {"Authorization": f"Bearer {tokens['ada']}"})


async def test_the_cap_is_patched_validated_and_shown(api: Api) -> None:
    created = await api.client.post("/api/v1/conversations", json={}, headers=api.headers)
    conversation = created.json()
    assert {k: conversation[k] for k in ("context_tokens", "summarize", "summary", "summary_through")} == {
        "context_tokens": None,
        "summarize": True,
        "summary": None,
        "summary_through": None,
    }
    too_big = await api.patch(conversation["id"], {"context_tokens": 10_000_000})
    assert too_big.status_code == 422, too_big.text
    assert too_big.headers["content-type"].startswith("application/problem+json")
    assert too_big.json()["code"] == "invalid_conversation"
    zero = await api.patch(conversation["id"], {"context_tokens": 0})
    assert zero.status_code in (400, 422), zero.text
    assert "code" in zero.json()
    changed = await api.patch(conversation["id"], {"context_tokens": 120, "summarize": False})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["context_tokens"], changed.json()["summarize"]) == (120, False)
    for i in range(12):
        prompt = await api.say(conversation["id"], f"question {i} about the harbour and its boats")
    assert sum(message_tokens(m.content) for m in prompt) <= 120
    assert prompt[-1].content == "question 11 about the harbour and its boats"
    back = await api.patch(conversation["id"], {"context_tokens": None})
    assert back.json()["context_tokens"] is None
    prompt = await api.say(conversation["id"], "and now?")
    assert 120 < sum(message_tokens(m.content) for m in prompt) <= 400


async def test_older_turns_are_summarised_in_the_background_and_sent_as_a_note(api: Api) -> None:
    created = await api.client.post("/api/v1/conversations", json={"system_prompt": "Be brief."}, headers=api.headers)
    cid = created.json()["id"]
    for i in range(30):
        await api.say(cid, f"Turn {i}: the lighthouse keeper counts {i} boats in the harbour.")
    conversation = await api.conversation(cid)
    for _ in range(200):  # the job runs in this process, through the outbox: wait for it to land
        if conversation["summary"]:
            break
        await asyncio.sleep(0.05)
        conversation = await api.conversation(cid)
    assert conversation["summary"]
    assert "lighthouse" in conversation["summary"]
    assert conversation["summary_through"] is not None
    assert conversation["summary_updated_at"] is not None
    prompt = await api.say(cid, "What did the keeper count?")
    assert prompt[0].role is MessageRole.SYSTEM
    assert prompt[0].content.startswith(f"Be brief.\n\n{SUMMARY_NOTE_HEADER}\n")
    assert sum(message_tokens(m.content) for m in prompt[1:]) <= 400
    assert not any(m.content.startswith("Turn 0:") for m in prompt)

    off = await api.patch(cid, {"summarize": False})
    assert off.json()["summarize"] is False
    prompt = await api.say(cid, "And now?")
    assert prompt[0].content == "Be brief."
