"""Prometheus metrics: one registry for the whole process, every metric defined here.

Adapters update these directly; ``GET /metrics`` renders the registry. Later features (LLM calls,
WebSocket connections) add their metrics to this module so that a reader finds them all in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        r = self.registry
        self.http_requests = Counter(
            "parley_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.http_latency = Histogram(
            "parley_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_in_flight = Gauge("parley_http_requests_in_flight", "HTTP requests being served", registry=r)
        self.rate_limit_decisions = Counter(
            "parley_rate_limit_decisions_total", "Rate-limit decisions", ["policy", "decision"], registry=r
        )
        self.cache_requests = Counter("parley_cache_requests_total", "Cache lookups", ["cache", "result"], registry=r)
        self.jobs_enqueued = Counter("parley_jobs_enqueued_total", "Jobs handed to the queue", ["job"], registry=r)
        self.jobs_finished = Counter(
            "parley_jobs_finished_total", "Jobs finished, by outcome", ["job", "outcome"], registry=r
        )
        self.job_duration = Histogram(
            "parley_job_duration_seconds", "Job run time", ["job"], buckets=JOB_BUCKETS, registry=r
        )
        self.outbox_backlog = Gauge("parley_outbox_backlog", "Outbox rows not yet sent to the queue", registry=r)
        self.outbox_oldest_age = Gauge(
            "parley_outbox_oldest_unsent_age_seconds", "Age of the oldest unsent outbox row", registry=r
        )
        self.db_pool_in_use = Gauge("parley_db_pool_in_use", "Database connections checked out", registry=r)
        self.breaker_state = Gauge(
            "parley_circuit_breaker_state",
            "Circuit breaker state (0 closed, 1 half-open, 2 open)",
            ["breaker"],
            registry=r,
        )


METRICS = Metrics()
