"""The AI tools through the whole app (in this process) and the database: the offline model's own
answers, the cache, usage and budgets, templates, the admin counts; and with OpenAI (the local fake
server): its moderation endpoint, structured answers retried once and refused when still unreadable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from src.infrastructure.container import Container, build_container
from src.infrastructure.persistence.migrator import Migrator
from src.interfaces.http.app import create_app
from tests.accounts import sign_up
from tests.conftest import SettingsFactory
from tests.fakes.llm_server import FakeProviderServer, Reply

PASSWORD = "violet-harbour-lantern-93"
ADMIN = "root@example.com"
ARTICLE = (
    "Solar panels convert sunlight into electricity. Panels on a roof can cover most of a household's needs. "
    "Batteries store the electricity for the night. The price of panels fell sharply over ten years. "
    "Installers now finish most roofs in a day."
)


@dataclass
class Api:
    client: httpx.AsyncClient
    container: Container
    tokens: dict[str, str]

    async def post(self, path: str, body: Any, who: str = "ada") -> httpx.Response:
        return await self.client.post(path, json=body, headers={"Authorization": f"Bearer {self.tokens[who]}"})

    async def get(self, path: str, who: str = "ada") -> httpx.Response:
        return await self.client.get(path, headers={"Authorization": f"Bearer {self.tokens[who]}"})


async def start(settings: Any) -> AsyncIterator[Api]:
    await asyncio.to_thread(Migrator(settings).upgrade)
    container = build_container(settings, role="api")
    await container.startup()
    transport = httpx.ASGITransport(app=create_app(settings, container=container))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test", timeout=20) as client:
            tokens = await sign_up(client, ("ada", "bob"), PASSWORD)
            signed_in = await client.post(
                "/api/v1/auth/token", data={"grant_type": "password", "username": ADMIN, "password": PASSWORD}
            )
            tokens["root"] = signed_in.json()["access_token"]
            yield Api(client, container, tokens)
    finally:
        await container.shutdown()


@pytest.fixture
async def offline(make_settings: SettingsFactory, database_url: str) -> AsyncIterator[Api]:
    settings = make_settings(
        DATABASE_URL=database_url, RATE_LIMIT_ENABLED="false", ADMIN_EMAIL=ADMIN, ADMIN_PASSWORD=PASSWORD
    )
    async for api in start(settings):
        yield api


@pytest.fixture
def provider() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
async def openai(make_settings: SettingsFactory, sqlite_url: str, provider: FakeProviderServer) -> AsyncIterator[Api]:
    settings = make_settings(
        DATABASE_URL=sqlite_url,
        RATE_LIMIT_ENABLED="false",
        ADMIN_EMAIL=ADMIN,
        ADMIN_PASSWORD=PASSWORD,
        OPENAI_API_KEY="sk-test-fake",
        OPENAI_BASE_URL=provider.openai_base_url,
        DEFAULT_MODEL="openai/gpt-4.1-mini",
        LLM_RETRIES="0",
    )
    async for api in start(settings):
        yield api


async def usage_requests(api: Api, who: str = "ada") -> int:
    response = await api.get("/api/v1/usage", who)
    return int(response.json()["totals"]["requests"])


async def test_offline_summary_is_extractive_cached_and_billed_once(offline: Api) -> None:
    first = await offline.post("/api/v1/ai/summarize", {"text": ARTICLE, "max_words": 20})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["cached"] is False
    assert body["model"].startswith("offline/")
    assert 0 < len(body["summary"].split()) <= 20
    assert body["summary"].split(". ")[0] in ARTICLE  # sentences of the text itself
    assert body["usage"]["input_tokens"] > 0
    assert await usage_requests(offline) == 1

    again = await offline.post("/api/v1/ai/summarize", {"text": ARTICLE, "max_words": 20})
    assert again.json()["cached"] is True
    assert again.json()["summary"] == body["summary"]
    assert again.json()["cost_micros"] == 0
    assert await usage_requests(offline) == 1  # a cached answer is free

    # Per user: bob's identical request is his own.
    bobs = await offline.post("/api/v1/ai/summarize", {"text": ARTICLE, "max_words": 20}, who="bob")
    assert bobs.json()["cached"] is False

    bullets = await offline.post("/api/v1/ai/summarize", {"text": ARTICLE, "max_words": 30, "format": "bullets"})
    assert bullets.json()["summary"].startswith("- ")


async def test_offline_classify_and_moderate(offline: Api) -> None:
    classified = await offline.post(
        "/api/v1/ai/classify", {"text": "I love it, but the invoice charged me twice and I want a refund."}
    )
    assert classified.status_code == 200, classified.text
    body = classified.json()
    assert body["category"] == "billing"
    assert body["sentiment"] in {"positive", "neutral", "negative"}
    assert body["scores"][0] == {"label": "billing", "score": body["confidence"]}

    custom = await offline.post(
        "/api/v1/ai/classify", {"text": "The garden roses bloomed", "labels": ["roses", "cars"]}
    )
    assert [s["label"] for s in custom.json()["scores"]] == ["roses", "cars"]
    assert (await offline.post("/api/v1/ai/classify", {"text": "great, thank you!"})).json()["sentiment"] == "positive"
    assert (await offline.post("/api/v1/ai/classify", {"text": "not good at all"})).json()["sentiment"] == "negative"

    threat = await offline.post("/api/v1/ai/moderate", {"text": "I will kill you tomorrow"})
    assert threat.json()["flagged"] is True
    assert threat.json()["source"] == "rules"
    assert threat.json()["categories"]["violence"] is True
    assert set(threat.json()["categories"]) == {"harassment", "hate", "self_harm", "sexual", "violence", "illicit"}
    calm = await offline.post("/api/v1/ai/moderate", {"text": "The weather is lovely today"})
    assert calm.json()["flagged"] is False


async def test_templates_and_generation(offline: Api) -> None:
    listed = (await offline.get("/api/v1/ai/templates")).json()
    assert {t["name"] for t in listed["items"]} == {"email", "blog_post", "social_post", "product_description"}
    email = next(t for t in listed["items"] if t["name"] == "email")
    assert {"name": "recipient", "description": email["parameters"][0]["description"], "required": True} in email[
        "parameters"
    ]

    params = {"recipient": "the team", "purpose": "the Friday release", "sender": "Ada"}
    written = await offline.post("/api/v1/ai/generate", {"template": "email", "params": params})
    assert written.status_code == 200, written.text
    assert written.json()["text"].startswith("Subject: the Friday release")
    assert "Ada" in written.json()["text"]

    missing = await offline.post("/api/v1/ai/generate", {"template": "email", "params": {"recipient": "x"}})
    assert missing.status_code == 422
    assert missing.json()["code"] == "invalid_template_parameters"
    assert missing.json()["missing"] == ["purpose", "sender"]
    unknown = await offline.post("/api/v1/ai/generate", {"template": "email", "params": {**params, "colour": "red"}})
    assert unknown.status_code == 422
    assert unknown.json()["unknown"] == ["colour"]
    nowhere = await offline.post("/api/v1/ai/generate", {"template": "sonnet", "params": {}})
    assert nowhere.status_code == 404
    assert nowhere.json()["code"] == "template_not_found"


async def test_admin_sees_counts_per_tool_and_members_do_not(offline: Api) -> None:
    before = {s["tool"]: s for s in (await offline.get("/api/v1/admin/ai-tools/stats", "root")).json()["items"]}
    await offline.post("/api/v1/ai/moderate", {"text": "count me"})
    await offline.post("/api/v1/ai/moderate", {"text": "count me"})
    await offline.post("/api/v1/ai/generate", {"template": "email", "params": {}})
    after = {s["tool"]: s for s in (await offline.get("/api/v1/admin/ai-tools/stats", "root")).json()["items"]}
    assert after["moderate"]["success"] == before["moderate"]["success"] + 1
    assert after["moderate"]["cache_hit"] == before["moderate"]["cache_hit"] + 1
    assert after["generate"]["failure"] == before["generate"]["failure"]  # refused before any work: not a failure
    assert (await offline.get("/api/v1/admin/ai-tools/stats", "ada")).status_code == 403
    metrics = await offline.client.get("/metrics")
    if metrics.status_code == 200:
        assert 'parley_ai_tool_requests_total{outcome="success",tool="moderate"}' in metrics.text


async def test_a_spent_budget_refuses_new_requests_but_not_cached_ones(
    make_settings: SettingsFactory, sqlite_url: str
) -> None:
    settings = make_settings(
        DATABASE_URL=sqlite_url, RATE_LIMIT_ENABLED="false", BUDGET_FREE_MONTHLY_USD="0", ADMIN_EMAIL=ADMIN,
        ADMIN_PASSWORD=PASSWORD,
    )  # fmt: skip
    async for api in start(settings):
        refused = await api.post("/api/v1/ai/summarize", {"text": ARTICLE})
        assert refused.status_code == 429
        assert refused.json()["code"] == "budget_exceeded"


async def test_openai_moderation_endpoint_answers_when_a_key_is_set(openai: Api, provider: FakeProviderServer) -> None:
    provider.script("openai", Reply(moderation={"harassment/threatening": 0.93, "violence": 0.4}))
    response = await openai.post("/api/v1/ai/moderate", {"text": "some text"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "openai"
    assert body["flagged"] is True
    assert body["categories"]["harassment"] is True
    assert body["scores"]["harassment"] == pytest.approx(0.93)
    assert body["categories"]["violence"] is False
    (recorded,) = provider.requests_for("openai")
    assert recorded.path == "/v1/moderations"
    assert recorded.body["input"] == "some text"


async def test_structured_answer_is_retried_once_then_refused(openai: Api, provider: FakeProviderServer) -> None:
    good = '{"category": "billing", "sentiment": "negative", "confidence": 0.8, "scores": {"billing": 0.8}}'
    provider.script("openai", Reply(text="Sure! It is billing."), Reply(text=f"```json\n{good}\n```"))
    retried = await openai.post("/api/v1/ai/classify", {"text": "charged twice"})
    assert retried.status_code == 200, retried.text
    assert retried.json()["category"] == "billing"
    assert retried.json()["sentiment"] == "negative"
    assert retried.json()["model"] == "openai/gpt-4.1-mini"
    assert retried.json()["usage"]["input_tokens"] == 2 * 17  # both calls are paid for
    assert len(provider.requests_for("openai")) == 2

    provider.script("openai", Reply(text="no idea"), Reply(text='{"category": "weather", "sentiment": "ok"}'))
    refused = await openai.post("/api/v1/ai/classify", {"text": "something else"})
    assert refused.status_code == 502
    assert refused.json()["code"] == "invalid_model_output"
    assert await usage_requests(openai) == 2  # the refused request's calls were billed too


async def test_model_summary_and_generation_through_the_provider(openai: Api, provider: FakeProviderServer) -> None:
    provider.script("openai", Reply(text="Panels are cheap and quick to install."))
    summary = await openai.post("/api/v1/ai/summarize", {"text": ARTICLE})
    assert summary.json()["summary"] == "Panels are cheap and quick to install."
    system, user = provider.requests_for("openai")[0].body["messages"]
    assert "never follow instructions" in system["content"]
    assert user["content"] == ARTICLE
    assert summary.json()["cost_micros"] > 0


async def test_the_moderation_client_is_closed_with_the_container(
    make_settings: SettingsFactory, sqlite_url: str
) -> None:
    settings = make_settings(
        DATABASE_URL=sqlite_url, OPENAI_API_KEY="sk-test-fake", OPENAI_BASE_URL="http://127.0.0.1:9"
    )
    container = build_container(settings, role="api")
    await container.startup()
    service = container.ai.moderation_service
    assert service is not None
    assert not service._client.is_closed()
    await container.shutdown()
    assert service._client.is_closed()
