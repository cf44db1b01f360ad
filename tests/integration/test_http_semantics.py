"""HEAD, OPTIONS, content types, error bodies and the OpenAPI document, as a client of the API sees them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from src.interfaces.http.app import create_app
from src.interfaces.http.paging import MAX_LIMIT, MAX_OFFSET
from tests.accounts import sign_up
from tests.conftest import SettingsFactory

PROBLEM = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
SOME_ID = "0190a000-0000-7000-8000-000000000000"


@pytest.fixture
async def client(make_settings: SettingsFactory, sqlite_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    from src.infrastructure.persistence.migrator import Migrator

    settings = make_settings(DATABASE_URL=sqlite_url, CORS_ORIGINS="https://app.example", RATE_LIMIT_ENABLED="false")
    await asyncio.to_thread(Migrator(settings).upgrade)
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
async def ada(client: httpx.AsyncClient) -> dict[str, str]:
    token = (await sign_up(client, ["ada"], "correct horse battery"))["ada"]
    return {"Authorization": f"Bearer {token}"}


async def test_head_is_answered_wherever_get_is(client: httpx.AsyncClient, ada: dict[str, str]) -> None:
    for path in ("/health", "/api/v1/users/me", "/api/v1/conversations", "/metrics"):
        got = await client.get(path, headers=ada)
        head = await client.head(path, headers=ada)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
    assert (await client.head("/api/v1/users/me")).status_code == 401  # HEAD is guarded like GET
    not_get = await client.head("/api/v1/auth/logout-all", headers=ada)
    assert not_get.status_code == 405
    assert (await client.get("/api/v1/users/me", headers=ada)).status_code == 200  # nothing was signed out


async def test_options_lists_every_method_of_the_path(client: httpx.AsyncClient, ada: dict[str, str]) -> None:
    expected = {
        "/api/v1/users/me": "DELETE, GET, HEAD, OPTIONS, PATCH",
        f"/api/v1/articles/{SOME_ID}": "DELETE, GET, HEAD, OPTIONS, PATCH",
        f"/api/v1/admin/users/{SOME_ID}": "GET, HEAD, OPTIONS, PATCH",
        "/api/v1/conversations": "GET, HEAD, OPTIONS, POST",
    }
    for path, allow in expected.items():
        for headers in (ada, {}):  # it says what the API offers: no sign-in needed, nothing about a resource
            answered = await client.options(path, headers=headers)
            assert answered.status_code == 204, path
            assert answered.headers["allow"] == allow, path
    assert (await client.options("/nowhere")).status_code == 404


async def test_charset_is_said_once(client: httpx.AsyncClient, ada: dict[str, str]) -> None:
    metrics = (await client.get("/metrics")).headers["content-type"]
    assert metrics.count("charset") == 1, metrics
    conversation = (await client.post("/api/v1/conversations", headers=ada)).json()["id"]
    exported = await client.get(f"/api/v1/conversations/{conversation}/export?format=markdown", headers=ada)
    assert exported.headers["content-type"] == "text/markdown; charset=utf-8"


async def test_every_error_is_problem_json(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/v1/users/me",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 400
    assert preflight.headers["content-type"] == PROBLEM
    assert preflight.json()["detail"] == "Disallowed CORS Origin"
    allowed = await client.options(
        "/api/v1/users/me", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    )
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    missing = await client.get("/schema/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert missing.json()["code"] == "not_found"
    assert missing.json()["request_id"] == missing.headers["x-request-id"]


async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    document = await client.get("/schema/openapi.json")
    assert document.status_code == 200
    body: dict[str, Any] = document.json()
    return body


async def test_every_operation_documents_its_errors_as_problems(client: httpx.AsyncClient) -> None:
    document = await openapi(client)
    assert document["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail", "code"]
    for path, item in document["paths"].items():
        if path.startswith("/v1/"):
            continue  # OpenAI's error shape, not problem JSON: tests/integration/test_openai_gateway_openapi.py
        for method, operation in item.items():
            responses = operation["responses"]
            expected = {"422"} if operation.get("parameters") or "requestBody" in operation else set()
            if operation.get("security"):
                expected |= {"401", "403"}
            if "{" in path:
                expected.add("404")
            if path.startswith("/api/"):
                expected.add("429")
            if method in ("post", "put", "patch", "delete"):
                expected.add("409")
            assert expected <= responses.keys(), (method, path, sorted(responses))
            for status, response in responses.items():
                # The token endpoint's 400 is RFC 6749's body; the readiness report is the 503's body.
                if int(status) >= 400 and (path, status) not in {("/api/v1/auth/token", "400"), ("/ready", "503")}:
                    assert response["content"][PROBLEM]["schema"] == PROBLEM_REF, (method, path, status)


async def test_the_document_describes_bodies_streams_and_exports(client: httpx.AsyncClient) -> None:
    document = await openapi(client)
    schemas = document["components"]["schemas"]
    for strict in ("CreateConversationRequest", "RegisterRequest", "CreateApiKeyRequest", "SendMessageRequest"):
        assert schemas[strict]["additionalProperties"] is False, strict
    assert "additionalProperties" not in schemas["ConversationResponse"]
    assert schemas["CreateConversationRequest"]["properties"]["title"]["oneOf"][0]["pattern"] == "^[^\\x00]*$"
    paths = document["paths"]
    sent = paths["/api/v1/conversations/{conversation_id}/messages"]["post"]["responses"]
    events = sent["200"]["content"]["text/event-stream"]
    assert all(f"`{kind}`" in sent["200"]["description"] for kind in ("message", "delta", "done", "error"))
    assert "event: delta" in next(iter(events["examples"].values()))["value"]
    assert sent["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/SentMessagesResponse"}
    stream = paths["/api/v1/conversations/{conversation_id}/messages/{message_id}/stream"]["get"]["responses"]
    assert "406" in stream
    export = paths["/api/v1/conversations/{conversation_id}/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"application/json", "text/markdown"}
    create = paths["/api/v1/conversations"]["post"]
    assert create["requestBody"]["required"] is False


async def test_every_paging_parameter_is_capped(client: httpx.AsyncClient) -> None:
    document = await openapi(client)
    paged = 0
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] in ("limit", "offset"):
                    paged += 1
                    cap = MAX_LIMIT if parameter["name"] == "limit" else MAX_OFFSET
                    assert 0 < parameter["schema"]["maximum"] <= cap, parameter
    assert paged >= 10
