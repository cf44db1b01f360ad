"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import SkipValidation
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from src.application.shared.check_readiness import CheckReadiness, CheckReadinessCommand
from src.infrastructure.container import Container


class HealthResponse(msgspec.Struct):
    status: str
    version: str


class ComponentCheck(msgspec.Struct, omit_defaults=True):
    status: str
    required: bool
    latency_ms: float
    error: str | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class ReadyResponse(msgspec.Struct):
    status: str
    checks: dict[str, ComponentCheck]


class SystemController(Controller):
    tags = ["system"]

    @get("/health", summary="Liveness", description="200 while the process runs; checks nothing else.")
    async def health(self, version: NamedDependency[str]) -> HealthResponse:
        return HealthResponse(status="ok", version=version)

    @get(
        "/ready",
        summary="Readiness",
        description=(
            "Checks the database and, when configured, Redis, each with its status and latency. "
            "503 when a required dependency (the database) is down; Redis being down only makes the "
            "status `degraded`, because Parley keeps serving without it. The `jobs` component reports "
            "background work in its details: `runner` (`saq` or `in_process`), `queue_depth` (jobs "
            "waiting in the queue; null while the queue is out of reach), `outbox_backlog` (jobs "
            "committed but not yet handed to the queue) and `outbox_oldest_age_s` (how long the oldest "
            "of those has waited). It is informational: a backlog never makes `/ready` fail by itself."
        ),
        responses={
            503: ResponseSpec(
                data_container=ReadyResponse, description="A required dependency is down", generate_examples=False
            )
        },
        cache_control=None,
    )
    async def ready(self, container: SkipValidation[Container]) -> Response[ReadyResponse]:
        check: CheckReadiness = container.use_cases.system.check_readiness
        report = await check(CheckReadinessCommand(timeout_seconds=container.settings.ready_timeout))
        body = ReadyResponse(
            status=report.status,
            checks={
                c.name: ComponentCheck(
                    status=c.status,
                    required=c.required,
                    latency_ms=c.latency_ms,
                    error=c.error,
                    details=dict(c.details),
                )
                for c in report.components
            },
        )
        status = HTTP_200_OK if report.ready else HTTP_503_SERVICE_UNAVAILABLE
        return Response(body, status_code=status, headers={"Cache-Control": "no-store"})
