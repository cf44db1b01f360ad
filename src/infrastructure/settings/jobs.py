"""Background jobs: the worker and the transactional outbox's relay."""

from __future__ import annotations

from dataclasses import dataclass

from src.infrastructure.settings.reading import var


@dataclass(frozen=True, slots=True)
class JobSettings:
    worker_concurrency: int = var("WORKER_CONCURRENCY", 10, minimum=1)
    outbox_relay_interval: float = var("OUTBOX_RELAY_INTERVAL", 1.0, minimum=0.05)
    outbox_batch_size: int = var("OUTBOX_BATCH_SIZE", 100, minimum=1)
