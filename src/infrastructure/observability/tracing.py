"""Optional OpenTelemetry tracing: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.

When on, spans are exported over OTLP/HTTP for every HTTP request (the Litestar plugin, configured by
the HTTP front door), every SQL statement (SQLAlchemy instrumentation), and every background job
(``job_span``). When off, nothing is installed and ``job_span`` is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

from src.infrastructure.persistence.database import keep_on_session
from src.infrastructure.settings import Settings

_TRACER_NAME = "parley"


def build_tracer_provider(settings: Settings, *, role: str) -> TracerProvider | None:
    if not settings.observability.otel_endpoint:
        return None
    resource = Resource.create({SERVICE_NAME: settings.observability.otel_service_name, "parley.role": role})
    provider = TracerProvider(resource=resource)
    endpoint = settings.observability.otel_endpoint.rstrip("/")
    if not endpoint.endswith("/v1/traces"):
        endpoint += "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=5)))
    return provider


def instrument_database(engine: AsyncEngine, provider: TracerProvider) -> None:
    instrumentor = SQLAlchemyInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        # Instrumentors are process-wide singletons: a second container (tests) uninstalls the first.
        instrumentor.uninstrument()
    # skip_dep_check: the instrumentation's declared SQLAlchemy range lags the releases it works with.
    instrumentor.instrument(engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True)
    keep_on_session(engine)  # the reply path's driver statements too (persistence/driver.py)


def uninstrument_database() -> None:
    """Undo ``instrument_database`` (it patches SQLAlchemy process-wide)."""
    instrumentor = SQLAlchemyInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


class JobTracer:
    """Wraps each job run in a span; a no-op without a provider."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self._tracer = provider.get_tracer(_TRACER_NAME) if provider else trace.NoOpTracer()

    @contextmanager
    def span(self, job_name: str, *, dedupe_key: str | None) -> Iterator[None]:
        attributes = {"parley.job": job_name}
        if dedupe_key:
            attributes["parley.dedupe_key"] = dedupe_key
        with self._tracer.start_as_current_span(f"job {job_name}", kind=trace.SpanKind.CONSUMER, attributes=attributes):
            yield
