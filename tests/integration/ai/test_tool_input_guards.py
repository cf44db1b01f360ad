"""``PROMPT_INJECTION_POLICY`` on the AI tools' input through the whole app and the database: ``flag``
answers, says why in ``safety`` and queues the request once (kind ``tool_input``, personal data masked);
``block`` refuses with 422 ``prompt_injection_suspected`` before anything is counted or charged;
``off`` leaves the tools alone."""

from __future__ import annotations

from tests.conftest import SettingsFactory
from tests.integration.ai.test_chat_guards import ATTACK, chat_api

BENIGN = "Can you help me ignore the noise in this recording? The microphone hums all day long."


async def test_flag_answers_marks_and_queues_tool_input(make_settings: SettingsFactory, database_url: str) -> None:
    settings = make_settings(DATABASE_URL=database_url, RATE_LIMIT_ENABLED="false")
    async with chat_api(settings) as (client, container):
        answered = await client.post("/api/v1/ai/summarize", json={"text": ATTACK})
        assert answered.status_code == 200, answered.text
        safety = answered.json()["safety"]["prompt_injection"]
        assert safety["flagged"] is True
        assert "instruction_override" in safety["reasons"]
        assert 0.5 <= safety["score"] <= 1

        (item,) = await container.ai.moderation_queue.list_open()
        assert item.kind.value == "tool_input"
        assert "instruction_override" in item.reasons
        assert "[EMAIL_1]" in item.excerpt
        assert "eve@example.com" not in item.excerpt

        again = await client.post("/api/v1/ai/summarize", json={"text": ATTACK})
        assert again.json()["cached"] is True
        assert again.json()["safety"] == answered.json()["safety"]
        assert len(await container.ai.moderation_queue.list_open()) == 1  # the identical request is not re-queued

        generated = await client.post(
            "/api/v1/ai/generate", json={"template": "social_post", "params": {"topic": ATTACK, "platform": "mastodon"}}
        )
        assert generated.status_code == 200, generated.text
        assert generated.json()["safety"]["prompt_injection"]["flagged"] is True
        assert len(await container.ai.moderation_queue.list_open()) == 2

        benign = await client.post("/api/v1/ai/classify", json={"text": BENIGN})
        assert benign.status_code == 200
        assert "safety" not in benign.json()
        assert len(await container.ai.moderation_queue.list_open()) == 2


async def test_block_refuses_tool_input_before_anything(make_settings: SettingsFactory, sqlite_url: str) -> None:
    settings = make_settings(DATABASE_URL=sqlite_url, RATE_LIMIT_ENABLED="false", PROMPT_INJECTION_POLICY="block")
    async with chat_api(settings) as (client, container):
        for path, body in (
            ("/api/v1/ai/summarize", {"text": ATTACK}),
            ("/api/v1/ai/classify", {"text": ATTACK}),
            ("/api/v1/ai/moderate", {"text": ATTACK}),
            ("/api/v1/ai/generate", {"template": "social_post", "params": {"topic": ATTACK, "platform": "mastodon"}}),
        ):
            refused = await client.post(path, json=body)
            assert refused.status_code == 422, (path, refused.text)
            assert refused.json()["code"] == "prompt_injection_suspected"
            assert "instruction_override" in refused.json()["reasons"]
        assert (await client.get("/api/v1/usage")).json()["totals"]["requests"] == 0
        assert await container.ai.moderation_queue.list_open() == []
        fine = await client.post("/api/v1/ai/summarize", json={"text": BENIGN})
        assert fine.status_code == 200
        assert "safety" not in fine.json()


async def test_off_leaves_tool_input_alone(make_settings: SettingsFactory, sqlite_url: str) -> None:
    settings = make_settings(DATABASE_URL=sqlite_url, RATE_LIMIT_ENABLED="false", PROMPT_INJECTION_POLICY="off")
    async with chat_api(settings) as (client, container):
        answered = await client.post("/api/v1/ai/summarize", json={"text": ATTACK})
        assert answered.status_code == 200
        assert "safety" not in answered.json()
        assert await container.ai.moderation_queue.list_open() == []
