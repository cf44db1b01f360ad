"""Capture what Parley logs, as the structured events structlog produced."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        found = [dict(r.msg) for r in self.records if isinstance(r.msg, dict)]
        return [e for e in found if event is None or e.get("event") == event]

    def text(self) -> str:
        return "\n".join(str(r.msg) for r in self.records)


@contextmanager
def capture_logs(logger_name: str = "parley") -> Iterator[LogCapture]:
    """Attach to Parley's logger namespace (configure_logging leaves it alone) for the block."""
    logger = logging.getLogger(logger_name)
    handler = LogCapture()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
