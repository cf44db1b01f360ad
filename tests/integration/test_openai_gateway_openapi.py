"""The ``/v1`` gateway is in the OpenAPI document, and what it really answers matches what the document says."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import jsonschema
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from src.infrastructure.persistence.migrator import Migrator
from src.interfaces.http.app import create_app
from tests.accounts import sign_up
from tests.conftest import SettingsFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def client(make_settings: SettingsFactory, sqlite_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    settings = make_settings(DATABASE_URL=sqlite_url)
    await asyncio.to_thread(Migrator(settings).upgrade)
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


class Document:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource("urn:parley", resource)

    def check(self, instance: Any, path: str, method: str, status: int, media: str = "application/json") -> None:
        schema = self.spec["paths"][path][method]["responses"][str(status)]["content"][media]["schema"]
        resolved = {"$ref": f"urn:parley#/components/schemas/{schema['$ref'].rsplit('/', 1)[-1]}"}
        jsonschema.Draft202012Validator(resolved, registry=self._registry).validate(instance)


async def test_the_v1_operations_are_documented_with_resolvable_schemas(client: AsyncTestClient[Litestar]) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    operations = {(path, method) for path, item in spec["paths"].items() if path.startswith("/v1") for method in item}
    assert operations == {("/v1/chat/completions", "post"), ("/v1/models", "get"), ("/v1/models/{model}", "get")}
    request = spec["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    name = request["$ref"].rsplit("/", 1)[-1]
    fields = spec["components"]["schemas"][name]["properties"]
    assert {"model", "messages", "stream", "stream_options", "max_completion_tokens", "store"} <= fields.keys()
    # Every reference in the document points at a schema that exists.
    text = json.dumps(spec)
    for reference in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert reference in spec["components"]["schemas"], reference
    assert any(tag["name"] == "OpenAI-compatible gateway" for tag in spec["tags"])


async def test_real_v1_answers_match_the_documented_schemas(client: AsyncTestClient[Litestar]) -> None:
    document = Document((await client.get("/schema/openapi.json")).json())
    token = (await sign_up(client, ["gatewaydoc"], PASSWORD))["gatewaydoc"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {"model": "offline/echo", "messages": [{"role": "user", "content": "say hi"}]}

    completion = await client.post("/v1/chat/completions", json=body, headers=headers)
    assert completion.status_code == 200, completion.text
    document.check(completion.json(), "/v1/chat/completions", "post", 200)

    streamed = await client.post(
        "/v1/chat/completions",
        json={**body, "stream": True, "stream_options": {"include_usage": True}},
        headers=headers,
    )
    assert streamed.status_code == 200
    events = [line.removeprefix("data: ") for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    for event in events[:-1]:
        document.check(json.loads(event), "/v1/chat/completions", "post", 200, "text/event-stream")

    models = await client.get("/v1/models", headers=headers)
    document.check(models.json(), "/v1/models", "get", 200)
    one = await client.get("/v1/models/offline/echo", headers=headers)
    document.check(one.json(), "/v1/models/{model}", "get", 200)

    completions = "/v1/chat/completions"
    for answer, path, method in (
        (await client.post(completions, json={**body, "n": 2}, headers=headers), completions, "post"),
        (await client.post(completions, json=body), completions, "post"),
        (await client.get("/v1/models/nope/nothing", headers=headers), "/v1/models/{model}", "get"),
        (await client.delete("/v1/models", headers=headers), "/v1/models", "get"),
    ):
        assert str(answer.status_code) in document.spec["paths"][path][method]["responses"], answer.text
        document.check(answer.json(), path, method, answer.status_code)
