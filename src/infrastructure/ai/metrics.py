"""``ToolMetrics`` on the platform's Prometheus registry: ``parley_ai_tool_requests_total{tool, outcome}``."""

from __future__ import annotations

from prometheus_client import Counter

from src.infrastructure.observability.metrics import METRICS

OUTCOMES = ("success", "failure", "cache_hit")
#: Defined once per process (the registry refuses a second metric of the same name).
AI_TOOL_REQUESTS = Counter(
    "parley_ai_tool_requests", "AI tool requests, by tool and outcome", ["tool", "outcome"], registry=METRICS.registry
)


class PrometheusToolMetrics:
    def tool_finished(self, tool: str, outcome: str) -> None:
        AI_TOOL_REQUESTS.labels(tool, outcome).inc()

    def snapshot(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for metric in AI_TOOL_REQUESTS.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    tool, outcome = sample.labels["tool"], sample.labels["outcome"]
                    counts.setdefault(tool, {})[outcome] = int(sample.value)
        return counts
