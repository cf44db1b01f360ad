"""The admin console: how long the audit log is kept (docs/OPERATIONS.md)."""

from __future__ import annotations

from dataclasses import dataclass

from src.infrastructure.settings.reading import var


@dataclass(frozen=True, slots=True)
class AdminSettings:
    audit_retention_days: int = var("AUDIT_RETENTION_DAYS", 365, minimum=1, maximum=36500)
