"""Prometheus metrics and OpenTelemetry tracing, observed from outside as an operator would."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from litestar.testing import AsyncTestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from src.infrastructure.queue.schedule import PRUNE_EXPIRED
from src.interfaces.http.app import create_app
from tests.conftest import SettingsFactory
from tests.prometheus import sample


async def migrated_app(make_settings: SettingsFactory, sqlite_url: str, **env: str):  # type: ignore[no-untyped-def]
    from src.infrastructure.persistence.migrator import Migrator

    settings = make_settings(DATABASE_URL=sqlite_url, **env)
    await asyncio.to_thread(Migrator(settings).upgrade)
    return create_app(settings)


async def test_metrics_count_requests_by_route_template_and_status(
    make_settings: SettingsFactory, sqlite_url: str
) -> None:
    app = await migrated_app(make_settings, sqlite_url)
    async with AsyncTestClient(app) as client:
        before = (await client.get("/metrics")).text
        await client.get("/health")
        await client.get("/health")
        await client.get("/does/not/exist/123")
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    health = {"method": "GET", "route": "/health", "status": "200"}
    assert (
        sample(text, "parley_http_requests_total", **health) - sample(before, "parley_http_requests_total", **health)
        == 2
    )
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert sample(text, "parley_http_requests_total", **unmatched) >= 1
    assert "/does/not/exist/123" not in text  # raw paths never become labels
    assert 'parley_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/health"}' in text
    for family in (
        "parley_http_requests_in_flight",
        "parley_db_pool_in_use",
        "parley_rate_limit_decisions_total",
        "parley_cache_requests_total",
        "parley_jobs_enqueued_total",
        "parley_jobs_finished_total",
        "parley_job_duration_seconds",
        "parley_outbox_backlog",
        "parley_circuit_breaker_state",
    ):
        assert f"# TYPE {family}" in text, family


async def test_metrics_can_require_a_bearer_token(make_settings: SettingsFactory, sqlite_url: str) -> None:
    app = await migrated_app(make_settings, sqlite_url, METRICS_TOKEN="scrape-me-please")
    async with AsyncTestClient(app) as client:
        anonymous = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert "parley_http_requests_total" in right.text


class _Collector(BaseHTTPRequestHandler):
    """A minimal OTLP/HTTP trace receiver: stores every exported request."""

    received: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        type(self).received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def otlp_collector() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    class Collector(_Collector):  # a class of its own per test: its own list of requests
        received: list[ExportTraceServiceRequest] = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", Collector.received
    finally:
        server.shutdown()


def span_names(received: list[ExportTraceServiceRequest]) -> list[str]:
    return [
        span.name
        for request in received
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]


async def test_traces_span_http_database_and_jobs_when_an_endpoint_is_set(
    make_settings: SettingsFactory, sqlite_url: str, otlp_collector: tuple[str, list[ExportTraceServiceRequest]]
) -> None:
    endpoint, received = otlp_collector
    app = await migrated_app(make_settings, sqlite_url, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
    async with AsyncTestClient(app) as client:
        assert (await client.get("/ready")).status_code == 200
        await app.state.container.jobs.run(PRUNE_EXPIRED, {}, None)
    # Leaving the client ran the shutdown, which flushes the spans to the collector.
    names = span_names(received)
    assert any(name.startswith("GET /ready") for name in names), names
    assert any(name.startswith(("SELECT", "connect", "DELETE")) for name in names), names
    assert f"job {PRUNE_EXPIRED}" in names
    service = received[0].resource_spans[0].resource.attributes
    assert {a.key: a.value.string_value for a in service}["service.name"] == "parley"


async def test_no_tracing_without_an_endpoint(make_settings: SettingsFactory, sqlite_url: str) -> None:
    app = await migrated_app(make_settings, sqlite_url)
    assert app.state.container.tracer_provider is None
