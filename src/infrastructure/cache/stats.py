"""Cache hits and misses, by the cache's logical name, in the Prometheus registry."""

from __future__ import annotations

from src.infrastructure.observability.metrics import METRICS, labelled


class PrometheusCacheStats:
    """``parley_cache_requests_total{cache, result="hit"|"miss"}``."""

    def record(self, cache: str, *, hit: bool) -> None:
        labelled(METRICS.cache_requests, cache, "hit" if hit else "miss").inc()
