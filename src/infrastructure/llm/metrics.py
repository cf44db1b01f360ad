"""``LlmMetrics`` on the platform's Prometheus registry (see ``observability/metrics.py``)."""

from __future__ import annotations

from src.domain.llm.model import Usage
from src.infrastructure.observability.metrics import METRICS, Metrics, labelled

#: Outcomes whose duration says how long an answer took (a failed or cancelled attempt's does not).
_ANSWERED = frozenset({"ok", "interrupted"})


class PrometheusLlmMetrics:
    def __init__(self, metrics: Metrics = METRICS) -> None:
        self._metrics = metrics

    def attempt_finished(
        self,
        provider: str,
        model: str,
        outcome: str,
        *,
        duration_s: float | None = None,
        ttft_s: float | None = None,
    ) -> None:
        labelled(self._metrics.llm_requests, provider, model, outcome).inc()
        if outcome in _ANSWERED and duration_s is not None:
            labelled(self._metrics.llm_latency, provider, model).observe(duration_s)
        if ttft_s is not None:
            labelled(self._metrics.llm_ttft, provider, model).observe(ttft_s)

    def tokens_used(self, provider: str, model: str, usage: Usage, cost_micros: int) -> None:
        estimated = "true" if usage.estimated else "false"
        if usage.input_tokens:
            labelled(self._metrics.llm_tokens, provider, model, "input", estimated).inc(usage.input_tokens)
        if usage.output_tokens:
            labelled(self._metrics.llm_tokens, provider, model, "output", estimated).inc(usage.output_tokens)
        if cost_micros:
            labelled(self._metrics.llm_cost, provider, model).inc(cost_micros)
