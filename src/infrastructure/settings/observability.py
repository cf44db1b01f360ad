"""Logs, metrics, traces and the heartbeats the admin system status reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from src.infrastructure.settings.reading import HTTP, Reader, manual, read_group, var

LogFormat = Literal["json", "console"]

LOG_FORMATS: tuple[str, ...] = ("json", "console")
LOG_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class ObservabilitySettings:
    log_level: str = var("LOG_LEVEL", "INFO", choices=LOG_LEVELS, upper=True)
    #: Default: ``json`` in production, else ``console``.
    log_format: LogFormat = manual("LOG_FORMAT", "console")
    #: When set, ``GET /metrics`` requires it as a bearer token.
    metrics_token: str | None = var("METRICS_TOKEN", None, secret=True)
    otel_endpoint: str | None = var("OTEL_EXPORTER_OTLP_ENDPOINT", None, url=HTTP)
    otel_service_name: str = var("OTEL_SERVICE_NAME", "parley")
    #: Seconds between an API or worker process's heartbeats in Redis (the admin system status).
    instance_heartbeat_seconds: float = var("INSTANCE_HEARTBEAT_SECONDS", 10.0, minimum=1.0)


def load_observability(env: Reader, *, production: bool) -> ObservabilitySettings:
    log_format = env.choice("LOG_FORMAT", LOG_FORMATS, "json" if production else "console")
    return read_group(ObservabilitySettings, env, log_format=log_format)
