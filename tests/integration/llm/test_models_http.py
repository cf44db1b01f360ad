"""``GET /api/v1/models`` and the provider errors as problem JSON, through the real app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from litestar import Controller, Litestar, get
from litestar.params import FromPath
from litestar.testing import AsyncTestClient

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
from src.infrastructure.persistence.migrator import Migrator
from src.interfaces.http.app import create_app
from tests.conftest import SettingsFactory

RAISED: dict[str, ProviderError | UnknownModel] = {
    "auth": ProviderAuthError("openai refused Parley's API key (401)", provider="openai"),
    "limited": ProviderRateLimited("groq is rate limiting Parley", provider="groq", retry_after=7.2),
    "down": ProviderUnavailable("gemini failed (503)", provider="gemini"),
    "slow": ProviderTimeout("openai sent nothing for 30 s", provider="openai"),
    "too-long": ProviderBadRequest("too long", provider="openai", context_too_long=True),
    "blocked": ContentBlocked("blocked", provider="gemini"),
    "generic": ProviderError("odd", provider="openai"),
    "unknown": UnknownModel("no such model", extra={"model": "x/y", "available": ["offline/echo"]}),
}


class RaisingController(Controller):
    path = "/probe/llm"

    @get("/{name:str}")
    async def fail(self, name: FromPath[str]) -> None:
        raise RAISED[name]


@pytest.fixture
async def client(make_settings: SettingsFactory, sqlite_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    settings = make_settings(DATABASE_URL=sqlite_url, OPENAI_API_KEY="sk-test", DEFAULT_MODEL="openai/gpt-4.1-nano")
    await asyncio.to_thread(Migrator(settings).upgrade)
    async with AsyncTestClient(create_app(settings, extra_route_handlers=[RaisingController])) as test_client:
        yield test_client


async def test_anyone_can_list_the_models_with_availability_prices_and_the_default(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/api/v1/models")
    assert response.status_code == 200, response.text
    body = response.json()
    models = {m["id"]: m for m in body["items"]}
    assert body["total"] == len(body["items"]) == len(models)
    assert (body["limit"], body["offset"], body["default_model"]) == (100, 0, "openai/gpt-4.1-nano")
    nano = models["openai/gpt-4.1-nano"]
    assert (nano["available"], nano["is_default"], nano["provider"], nano["name"]) == (
        True,
        True,
        "openai",
        "gpt-4.1-nano",
    )
    assert (nano["context_window"], nano["max_output_tokens"]) == (1047576, 32768)
    assert nano["prices"] == {
        "input_micros_per_million": 100_000,
        "output_micros_per_million": 400_000,
        "cached_input_micros_per_million": 25_000,
        "input_usd_per_million": 0.1,
        "output_usd_per_million": 0.4,
        "cached_input_usd_per_million": 0.025,
    }
    assert "cheap" in nano["capabilities"]
    assert models["offline/echo"]["available"] is True
    assert models["groq/llama-3.3-70b-versatile"]["available"] is False
    assert models["groq/llama-3.3-70b-versatile"]["prices"]["cached_input_micros_per_million"] is None
    assert sum(m["is_default"] for m in models.values()) == 1


async def test_the_list_filters_available_models_and_pages(client: AsyncTestClient[Litestar]) -> None:
    available = (await client.get("/api/v1/models", params={"available": "true"})).json()
    assert {m["provider"] for m in available["items"]} == {"offline", "openai"}
    page = (await client.get("/api/v1/models", params={"limit": 2, "offset": 1})).json()
    assert [m["id"] for m in page["items"]] == ["offline/lorem", "openai/gpt-4.1-mini"]
    assert page["total"] > 2
    bad = await client.get("/api/v1/models", params={"limit": 0})
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("auth", 502, "provider_auth_failed"),
        ("limited", 429, "provider_rate_limited"),
        ("down", 503, "provider_unavailable"),
        ("slow", 504, "provider_timeout"),
        ("too-long", 422, "provider_bad_request"),
        ("blocked", 422, "content_blocked"),
        ("generic", 502, "provider_error"),
        ("unknown", 422, "model_unavailable"),
    ],
)
async def test_provider_errors_are_problem_json_with_the_right_status(
    client: AsyncTestClient[Litestar], name: str, status: int, code: str
) -> None:
    response = await client.get(f"/probe/llm/{name}")
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    if name == "limited":
        assert response.headers["retry-after"] == "8"
        assert (body["retry_after"], body["provider"]) == (7.2, "groq")
    else:
        assert "retry-after" not in response.headers
    if name == "too-long":
        assert body["context_too_long"] is True
    if name == "unknown":
        assert body["available"] == ["offline/echo"]
