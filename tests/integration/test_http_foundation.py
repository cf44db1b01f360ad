"""The HTTP front door's foundation: problem JSON, request ids, readiness, OpenAPI, headers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import msgspec
import pytest
from litestar import Controller, Litestar, get, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

from src.domain.shared.errors import Conflict, NotFound
from src.infrastructure.settings import Settings
from src.interfaces.http.app import create_app
from tests.conftest import SettingsFactory
from tests.logs import capture_logs

PROBLEM = "application/problem+json"


class Widget(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    count: Annotated[int, msgspec.Meta(ge=0)]


class ProbeController(Controller):
    """Routes that exist only in these tests, to drive every error path of the pipeline."""

    path = "/probe"

    @post("/widgets")
    async def create_widget(self, data: JSONBody[Widget]) -> Widget:
        return data

    @get("/boom")
    async def boom(self) -> None:
        raise RuntimeError("internal detail: password=hunter2 at db.internal:5432")

    @get("/missing")
    async def missing(self) -> None:
        raise NotFound("widget 7 does not exist", extra={"widget_id": 7})

    @get("/taken")
    async def taken(self) -> None:
        raise Conflict("that name is taken")


async def migrated(settings: Settings) -> Settings:
    from src.infrastructure.persistence.migrator import Migrator

    await asyncio.to_thread(Migrator(settings).upgrade)  # Alembic runs its own event loop
    return settings


def build(settings: Settings) -> Litestar:
    return create_app(settings, extra_route_handlers=[ProbeController])


@pytest.fixture
async def client(make_settings: SettingsFactory, sqlite_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    settings = await migrated(
        make_settings(DATABASE_URL=sqlite_url, MAX_BODY_BYTES=1024, CORS_ORIGINS="https://app.example")
    )
    async with AsyncTestClient(build(settings)) as test_client:
        yield test_client


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_health_answers_while_the_process_runs(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_reports_the_database_with_its_latency(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    database = body["checks"]["database"]
    assert database["status"] == "up"
    assert database["required"] is True
    assert database["latency_ms"] >= 0
    assert "redis" not in body["checks"]  # not configured, not checked
    assert response.headers["cache-control"] == "no-store"


async def test_unknown_route_is_a_404_problem(client: AsyncTestClient[Litestar]) -> None:
    body = assert_problem(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert body["instance"] == "/api/v1/nothing-here"


async def test_wrong_method_is_a_405_problem(client: AsyncTestClient[Litestar]) -> None:
    body = assert_problem(await client.delete("/health"), 405, "method_not_allowed")
    assert "DELETE" in body["detail"]


async def test_malformed_json_is_a_400_problem(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post(
        "/probe/widgets", content=b'{"name": "a", "count": ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "malformed_json")


async def test_validation_failure_is_a_422_problem_naming_the_fields(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/probe/widgets", json={"name": "", "count": -1})
    body = assert_problem(response, 422, "validation_failed")
    assert body["errors"]
    fields = {e["field"] for e in body["errors"]}
    assert fields & {"name", "count"}


async def test_wrong_type_is_a_422_problem(client: AsyncTestClient[Litestar]) -> None:
    body = assert_problem(
        await client.post("/probe/widgets", json={"name": "ok", "count": "many"}), 422, "validation_failed"
    )
    assert "count" in body["detail"]


async def test_a_valid_body_passes(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/probe/widgets", json={"name": "ok", "count": 2})
    assert response.status_code == 201
    assert response.json() == {"name": "ok", "count": 2}


async def test_a_body_over_the_limit_is_a_413_problem(client: AsyncTestClient[Litestar]) -> None:
    big = json.dumps({"name": "x", "count": 1, "pad": "y" * 4096})
    response = await client.post("/probe/widgets", content=big, headers={"content-type": "application/json"})
    assert_problem(response, 413, "body_too_large")


async def test_an_unhandled_exception_is_a_500_without_internals_logged_once(client: AsyncTestClient[Litestar]) -> None:
    with capture_logs() as logs:
        response = await client.get("/probe/boom")
    body = assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert body["detail"] == "An unexpected error occurred"
    errors = [r.msg for r in logs.records if isinstance(r.msg, dict) and r.msg.get("event") == "unhandled_exception"]
    assert len(errors) == 1
    # Captured where it was raised, rendered as a traceback by the log writer thread.
    exc_info = errors[0]["exc_info"]
    raised = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    assert isinstance(raised, RuntimeError)
    assert errors[0]["request_id"] == response.headers["x-request-id"]


async def test_domain_errors_map_by_code_and_kind(client: AsyncTestClient[Litestar]) -> None:
    body = assert_problem(await client.get("/probe/missing"), 404, "not_found")
    assert body["detail"] == "widget 7 does not exist"
    assert body["widget_id"] == 7
    assert_problem(await client.get("/probe/taken"), 409, "conflict")


async def test_a_well_formed_request_id_is_kept_and_returned(client: AsyncTestClient[Litestar]) -> None:
    with capture_logs() as logs:
        response = await client.get("/health", headers={"X-Request-ID": "client-req-0001"})
    assert response.headers["x-request-id"] == "client-req-0001"
    access = logs.events("request")
    assert access[-1]["request_id"] == "client-req-0001"
    assert access[-1]["method"] == "GET"
    assert access[-1]["route"] == "/health"
    assert access[-1]["status"] == 200
    assert access[-1]["duration_ms"] >= 0


@pytest.mark.parametrize("bad", ["short", "has spaces in it", "x" * 200, "semi;colon-injection"])
async def test_a_malformed_request_id_is_replaced(client: AsyncTestClient[Litestar], bad: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


async def test_every_log_line_of_a_request_carries_its_request_id(client: AsyncTestClient[Litestar]) -> None:
    with capture_logs() as logs:
        await client.get("/probe/boom", headers={"X-Request-ID": "trace-me-12345"})
    lines = [e for e in logs.events() if e.get("event") in {"unhandled_exception", "request"}]
    assert len(lines) == 2
    assert {e["request_id"] for e in lines} == {"trace-me-12345"}


async def test_routes_are_logged_by_template_not_by_raw_path(client: AsyncTestClient[Litestar]) -> None:
    with capture_logs() as logs:
        await client.get("/no/such/path")
    assert logs.events("request")[-1]["route"] == "<unmatched>"


async def test_security_headers_are_on_every_response(client: AsyncTestClient[Litestar]) -> None:
    for response in (await client.get("/health"), await client.get("/nowhere")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # only in production


async def test_cors_allows_configured_origins_only(client: AsyncTestClient[Litestar]) -> None:
    allowed = await client.options(
        "/health", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    )
    assert allowed.status_code in (200, 204)
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    other = await client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_openapi_document_and_viewers_are_served(client: AsyncTestClient[Litestar]) -> None:
    document = await client.get("/schema/openapi.json")
    assert document.status_code == 200
    spec = document.json()
    assert spec["openapi"].startswith("3.1")
    assert "/health" in spec["paths"]
    assert "/ready" in spec["paths"]
    assert "503" in spec["paths"]["/ready"]["get"]["responses"]
    for viewer in ("/schema/swagger", "/schema/scalar"):
        page = await client.get(viewer)
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]


async def test_production_adds_hsts(make_settings: SettingsFactory, sqlite_url: str) -> None:
    settings = make_settings(DATABASE_URL=sqlite_url, APP_ENV="production")
    async with AsyncTestClient(build(settings)) as client:
        response = await client.get("/health")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_ready_is_503_when_the_database_is_unreachable(make_settings: SettingsFactory) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    settings = make_settings(
        DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:9/parley", DB_POOL_TIMEOUT="1", READY_TIMEOUT="2"
    )
    async with AsyncTestClient(build(settings)) as client:
        response = await client.get("/ready")
        health = await client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "down"
    assert body["checks"]["database"]["error"]
    assert "postgres@" not in response.text  # no connection string leaks
    assert health.status_code == 200  # liveness does not depend on the database


@pytest.mark.redis
async def test_ready_checks_redis_when_configured(
    make_settings: SettingsFactory, sqlite_url: str, redis_url: str
) -> None:
    settings = await migrated(make_settings(DATABASE_URL=sqlite_url, REDIS_URL=redis_url))
    async with AsyncTestClient(build(settings)) as client:
        body = (await client.get("/ready")).json()
    assert body["status"] == "ready"
    assert body["checks"]["redis"]["status"] == "up"
    assert body["checks"]["redis"]["required"] is False


async def test_ready_is_degraded_not_failed_when_redis_is_down(make_settings: SettingsFactory, sqlite_url: str) -> None:
    settings = await migrated(make_settings(DATABASE_URL=sqlite_url, REDIS_URL="redis://127.0.0.1:9/0"))
    async with AsyncTestClient(build(settings)) as client:
        response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "up"


async def test_ready_is_503_until_the_database_is_migrated(make_settings: SettingsFactory, sqlite_url: str) -> None:
    from src.infrastructure.persistence.migrator import Migrator

    settings = make_settings(DATABASE_URL=sqlite_url)
    async with AsyncTestClient(build(settings)) as client:
        before = await client.get("/ready")
        await asyncio.to_thread(Migrator(settings).upgrade)
        after = await client.get("/ready")
    assert before.status_code == 503
    assert "parley db upgrade" in before.json()["checks"]["database"]["error"]
    assert after.status_code == 200
    assert after.json()["checks"]["database"]["details"]["schema"] == "current"


async def test_every_api_route_asks_for_a_signed_in_caller_through_the_routers_hook(
    client: AsyncTestClient[Litestar],
) -> None:
    """The ``/api/v1`` router checks the caller in its ``before_request`` hook (a guard cost a copy of the
    route handler per request). A handler or controller with a hook of its own would replace it and
    open its route: none has one, so every HTTP route there resolves the router's."""
    from litestar.routes import HTTPRoute

    from src.interfaces.http.auth import require_principal

    handlers = [
        handler
        for route in client.app.routes
        if isinstance(route, HTTPRoute) and route.path.startswith("/api/v1/")
        for handler in route.route_handlers
    ]
    assert len(handlers) > 50
    assert all(handler.resolve_before_request() is require_principal for handler in handlers)
    anonymous = await client.get("/api/v1/conversations")
    assert_problem(anonymous, 401, "authentication_required")
