"""One structured log line per dispatched domain event, and a Prometheus counter by type and outcome."""

from __future__ import annotations

from src.domain.shared.events import DomainEvent
from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS

logger = get_logger("parley.events")


class LoggingEventObserver:
    def dispatched(
        self,
        event: DomainEvent,
        outcome: str,
        *,
        handled: list[str],
        skipped: list[str],
        failed: dict[str, str],
        duration_s: float,
    ) -> None:
        METRICS.domain_events.labels(event.event_name(), outcome).inc()
        log = logger.warning if failed else logger.info
        log(
            "domain_event",
            event_type=event.event_name(),
            event_id=str(event.event_id),
            outcome=outcome,
            handled=handled,
            skipped=skipped,
            failed=failed,
            duration_ms=round(duration_s * 1000, 2),
        )
