"""Hostile input through the HTTP API on SQLite and PostgreSQL: always a 4xx problem, never a 5xx, nothing stored.

Each case was a 500 (or, on SQLite, silently stored) before the JSON decoder and the query check
(src/interfaces/http/json_input.py, input_checks.py) refused it at the door.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from src.infrastructure.settings import Settings
from src.interfaces.http.app import create_app
from tests.accounts import sign_up
from tests.conftest import SettingsFactory

PROBLEM = "application/problem+json"
PASSWORD = "correct horse battery"
DEEP = b"[" * 5000 + b"]" * 5000


async def migrated(settings: Settings) -> Settings:
    from src.infrastructure.persistence.migrator import Migrator

    await asyncio.to_thread(Migrator(settings).upgrade)
    return settings


@pytest.fixture
async def client(make_settings: SettingsFactory, database_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    settings = await migrated(make_settings(DATABASE_URL=database_url, RATE_LIMIT_ENABLED="false"))
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
async def ada(client: httpx.AsyncClient) -> dict[str, str]:
    token = (await sign_up(client, ["ada"], PASSWORD))["ada"]
    return {"Authorization": f"Bearer {token}"}


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    return body


def names_field(body: dict[str, Any], field: str) -> None:
    assert [e["field"] for e in body["errors"]] == [field], body
    assert body["detail"].startswith(f"{field}: "), body


async def count(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> int:
    listed = await client.get(path, headers=headers)
    assert listed.status_code == 200, listed.text
    total: int = listed.json()["total"]
    return total


async def test_a_nul_character_in_any_stored_text_is_422_naming_the_field(
    client: httpx.AsyncClient, ada: dict[str, str]
) -> None:
    nul = "a\u0000b"
    register = await client.post(
        "/api/v1/auth/register", json={"email": f"{nul}@example.com", "password": PASSWORD, "display_name": "X"}
    )
    names_field(problem(register, 422, "validation_failed"), "email")
    cases = [
        ("/api/v1/conversations", {"title": nul}, "title"),
        ("/api/v1/conversations", {"system_prompt": nul}, "system_prompt"),
        ("/api/v1/conversations", {"knowledge": ["ok", nul]}, "knowledge[1]"),
        ("/api/v1/articles", {"title": "Fine", "body": nul}, "body"),
        ("/api/v1/articles", {"title": nul}, "title"),
        ("/api/v1/api-keys", {"name": nul}, "name"),
    ]
    for path, body, field in cases:
        names_field(problem(await client.post(path, json=body, headers=ada), 422, "validation_failed"), field)
    renamed = await client.patch("/api/v1/users/me", json={"display_name": nul}, headers=ada)
    names_field(problem(renamed, 422, "validation_failed"), "display_name")
    conversation = (await client.post("/api/v1/conversations", json={}, headers=ada)).json()["id"]
    sent = await client.post(f"/api/v1/conversations/{conversation}/messages", json={"content": nul}, headers=ada)
    names_field(problem(sent, 422, "validation_failed"), "content")
    # Nothing of it was stored, on either database.
    assert await count(client, "/api/v1/conversations", ada) == 1
    assert await count(client, "/api/v1/articles", ada) == 0
    assert (await client.get("/api/v1/api-keys", headers=ada)).json()["total"] == 0
    assert (await client.get("/api/v1/users/me", headers=ada)).json()["display_name"] == "ada"
    messages = await client.get(f"/api/v1/conversations/{conversation}/messages", headers=ada)
    assert messages.json()["total"] == 0


async def test_a_nul_character_in_a_query_parameter_is_422_naming_it(
    client: httpx.AsyncClient, ada: dict[str, str]
) -> None:
    for path in ("/api/v1/conversations?q=a%00b", "/api/v1/search?q=a%00b", "/api/v1/articles?tag=x%00"):
        body = problem(await client.get(path, headers=ada), 422, "validation_failed")
        assert body["errors"][0]["source"] == "query"
        assert body["errors"][0]["field"] in ("q", "tag")


async def test_a_nul_character_in_a_sign_in_is_an_oauth_invalid_request(client: httpx.AsyncClient) -> None:
    signed_in = await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": "a\u0000@example.com", "password": "x"}
    )
    assert signed_in.status_code == 400, signed_in.text
    assert signed_in.json()["error"] == "invalid_request"
    assert "username" in signed_in.json()["error_description"]
    as_json = await client.post("/api/v1/auth/token", content=DEEP, headers={"Content-Type": "application/json"})
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")


async def test_deeply_nested_json_is_400_on_every_json_route(client: httpx.AsyncClient, ada: dict[str, str]) -> None:
    json_headers = {"Content-Type": "application/json"}
    register = await client.post("/api/v1/auth/register", content=DEEP, headers=json_headers)
    problem(register, 400, "json_too_deep")
    nested_field = b'{"title": ' + DEEP + b"}"
    for path in ("/api/v1/conversations", "/api/v1/articles", "/api/v1/api-keys"):
        created = await client.post(path, content=nested_field, headers={**ada, **json_headers})
        problem(created, 400, "json_too_deep")
    # Deep but legitimate-looking nesting inside a string is text, not nesting.
    titled = await client.post("/api/v1/conversations", json={"title": "[" * 100}, headers=ada)
    assert titled.status_code == 201, titled.text


async def test_invalid_utf8_is_400(client: httpx.AsyncClient, ada: dict[str, str]) -> None:
    headers = {**ada, "Content-Type": "application/json"}
    problem(
        await client.post("/api/v1/conversations", content=b'{"title": "\xff\xfe"}', headers=headers),
        400,
        "invalid_utf8",
    )
    unauthenticated = await client.post(
        "/api/v1/auth/register", content=b'{"email": "\xc3(@example.com"}', headers={"Content-Type": "application/json"}
    )
    problem(unauthenticated, 400, "invalid_utf8")
    assert await count(client, "/api/v1/conversations", ada) == 0


async def test_paging_beyond_what_a_database_integer_holds_is_422(
    client: httpx.AsyncClient, ada: dict[str, str]
) -> None:
    admin = await client.get(f"/api/v1/admin/users?offset={2**63}", headers=ada)
    assert admin.status_code == 403  # a creator; the cap itself is checked on every list below
    for path in ("/api/v1/conversations", "/api/v1/articles", "/api/v1/models"):
        for parameter in ("offset", "limit"):
            body = problem(await client.get(f"{path}?{parameter}={2**63}", headers=ada), 422, "validation_failed")
            assert body["errors"][0]["field"] == parameter
    deep_but_fine = await client.get("/api/v1/conversations?offset=1000000", headers=ada)
    assert deep_but_fine.status_code == 200


async def test_a_body_that_is_not_json_is_415_and_types_are_strict(
    client: httpx.AsyncClient, ada: dict[str, str]
) -> None:
    plain = await client.post(
        "/api/v1/conversations", content=b'{"title": "x"}', headers={**ada, "Content-Type": "text/plain"}
    )
    problem(plain, 415, "unsupported_media_type")
    stringly = await client.post("/api/v1/api-keys", json={"name": "k", "expires_in_days": "7"}, headers=ada)
    names_field(problem(stringly, 422, "validation_failed"), "expires_in_days")
    assert await count(client, "/api/v1/conversations", ada) == 0
    assert (await client.get("/api/v1/api-keys", headers=ada)).json()["total"] == 0
    vendor_json = await client.post(
        "/api/v1/conversations", content=b"{}", headers={**ada, "Content-Type": "application/vnd.parley+json"}
    )
    assert vendor_json.status_code == 201, vendor_json.text


async def test_a_conversation_starts_without_a_body(client: httpx.AsyncClient, ada: dict[str, str]) -> None:
    created = await client.post("/api/v1/conversations", headers=ada)
    assert created.status_code == 201, created.text
    assert created.json()["title"] is None


async def test_a_reply_stream_that_cannot_be_an_event_stream_is_406(
    client: httpx.AsyncClient, ada: dict[str, str]
) -> None:
    conversation = (await client.post("/api/v1/conversations", headers=ada)).json()["id"]
    sent = await client.post(f"/api/v1/conversations/{conversation}/messages", json={"content": "hi"}, headers=ada)
    reply = sent.json()["assistant_message"]["id"]
    stream = f"/api/v1/conversations/{conversation}/messages/{reply}/stream"
    problem(await client.get(stream, headers={**ada, "Accept": "text/html"}), 406, "not_acceptable")
    ended = await client.get(stream, headers={**ada, "Accept": "text/event-stream"})
    assert ended.status_code == 200
    assert "event: done" in ended.text


async def test_errors_name_the_parameter_the_client_sent(client: httpx.AsyncClient, ada: dict[str, str]) -> None:
    usage = problem(await client.get("/api/v1/usage?from=yesterday", headers=ada), 422, "validation_failed")
    assert usage["errors"][0]["field"] == "from"
    conversation = (await client.post("/api/v1/conversations", headers=ada)).json()["id"]
    stream = f"/api/v1/conversations/{conversation}/messages/{conversation}/stream"
    too_long = await client.get(stream, headers={**ada, "Last-Event-ID": "9" * 30})
    assert problem(too_long, 422, "validation_failed")["errors"][0]["field"] == "Last-Event-ID"
    # A digit Python's str.isdigit() takes but int() refuses: was a 500.
    problem(await client.get(f"{stream}?last_event_id=%C2%B2", headers=ada), 422, "invalid_event_id")
