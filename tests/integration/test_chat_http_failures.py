"""Model failures as HTTP clients see them: a container built with a scripted model (the
``chat_model`` hook of ``build_container``), the real app, SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from src.domain.llm.errors import ProviderUnavailable
from src.infrastructure.container import build_container
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.settings import Settings
from src.interfaces.http.app import create_app
from tests.conftest import SettingsFactory
from tests.fakes.chat import Reply, ScriptedChatModel

PASSWORD = "violet-harbour-lantern-93"


@pytest.fixture
def model() -> ScriptedChatModel:
    return ScriptedChatModel()


@pytest.fixture
def settings(make_settings: SettingsFactory, sqlite_url: str) -> Settings:
    migrated = make_settings(DATABASE_URL=sqlite_url, RATE_LIMIT_ENABLED="false")
    Migrator(migrated).upgrade()
    return migrated


@pytest.fixture
async def client(settings: Settings, model: ScriptedChatModel) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(settings, build_container(settings, role="api", chat_model=model))
    async with AsyncTestClient(app) as test_client:
        await test_client.post(
            "/api/v1/auth/register", json={"email": "ada@example.com", "password": PASSWORD, "display_name": "Ada"}
        )
        token = await test_client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": "ada@example.com", "password": PASSWORD}
        )
        test_client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield test_client


async def conversation(client: AsyncTestClient[Litestar]) -> str:
    created = await client.post("/api/v1/conversations", json={})
    return str(created.json()["id"])


def events(body: str) -> list[dict[str, Any]]:
    parsed = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        parsed.append(fields)
    return parsed


async def test_a_failure_before_the_first_delta_is_a_problem_in_json_and_an_error_event_in_sse(
    client: AsyncTestClient[Litestar], model: ScriptedChatModel
) -> None:
    model.script(Reply(error_before=ProviderUnavailable("every provider is down")))
    cid = await conversation(client)
    answer = await client.post(f"/api/v1/conversations/{cid}/messages", json={"content": "hello?"})
    assert answer.status_code == 503
    assert answer.json()["code"] == "provider_unavailable"

    streamed = await client.post(
        f"/api/v1/conversations/{cid}/messages", json={"content": "hello?"}, headers={"Accept": "text/event-stream"}
    )
    assert streamed.status_code == 200
    sent = events(streamed.text)
    assert [e["event"] for e in sent] == ["message", "error"]
    assert '"code":"provider_unavailable"' in sent[-1]["data"]
    assert '"message":null' in sent[-1]["data"]
    page = (await client.get(f"/api/v1/conversations/{cid}/messages")).json()
    assert [m["role"] for m in page["items"]] == ["user", "user"]  # no reply was stored
    usage = (await client.get("/api/v1/usage")).json()
    assert usage["totals"]["requests"] == 0


async def test_a_failure_after_the_first_delta_keeps_the_text_and_charges_it(
    client: AsyncTestClient[Litestar], model: ScriptedChatModel
) -> None:
    model.script(Reply(tokens=("half", " a", " reply", " lost"), fail_after=3, report_usage=False))
    cid = await conversation(client)
    streamed = await client.post(
        f"/api/v1/conversations/{cid}/messages", json={"content": "go"}, headers={"Accept": "text/event-stream"}
    )
    sent = events(streamed.text)
    assert [e["event"] for e in sent] == ["message", "delta", "delta", "delta", "error"]
    assert [int(e["id"]) for e in sent] == [1, 2, 3, 4, 5]
    page = (await client.get(f"/api/v1/conversations/{cid}/messages")).json()
    reply = page["items"][0]
    assert (reply["content"], reply["finish_reason"], reply["error_code"]) == (
        "half a reply",
        "error",
        "provider_error",
    )
    assert reply["usage"]["estimated"] is True
    assert reply["usage"]["output_tokens"] >= 3
    usage = (await client.get("/api/v1/usage")).json()
    assert usage["totals"]["requests"] == 1
    assert usage["totals"]["output_tokens"] == reply["usage"]["output_tokens"]
