"""Prometheus metrics at GET /metrics, optionally behind a bearer token."""

from __future__ import annotations

import hmac

from litestar import Request, Response, get
from litestar.exceptions import NotAuthorizedException
from litestar.params import SkipValidation
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from src.infrastructure.container import Container
from src.infrastructure.observability.metrics import METRICS

#: Litestar adds ``; charset=utf-8`` to every ``text/`` type itself: without it here, it is said once.
MEDIA_TYPE = "; ".join(part for part in CONTENT_TYPE_LATEST.split("; ") if not part.startswith("charset="))


@get(
    "/metrics",
    tags=["system"],
    summary="Prometheus metrics",
    description=(
        "Prometheus text format: HTTP requests and latency by method, route template and status; requests in "
        "flight; rate-limit decisions; cache hits and misses; jobs enqueued, finished and their durations; "
        "outbox backlog; database pool in use; circuit-breaker states. When `METRICS_TOKEN` is set, send "
        "`Authorization: Bearer <token>`."
    ),
    media_type=MEDIA_TYPE,
    include_in_schema=True,
)
async def metrics(request: Request, container: SkipValidation[Container]) -> Response[bytes]:  # type: ignore[type-arg]
    token = container.settings.observability.metrics_token
    if token:
        supplied = request.headers.get("authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
            raise NotAuthorizedException("send the metrics token as `Authorization: Bearer <token>`")
    container.refresh_gauges()
    return Response(generate_latest(METRICS.registry), media_type=MEDIA_TYPE)
