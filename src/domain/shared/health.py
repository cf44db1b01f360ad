"""Readiness as a value: which dependencies are up, and whether that is enough to serve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ComponentStatus = Literal["up", "down"]


@dataclass(slots=True, frozen=True)
class ComponentHealth:
    name: str
    status: ComponentStatus
    required: bool
    latency_ms: float
    error: str | None = None
    details: tuple[tuple[str, str | int | float | None], ...] = ()


@dataclass(slots=True, frozen=True)
class ReadinessReport:
    components: tuple[ComponentHealth, ...]

    @property
    def ready(self) -> bool:
        """Ready when every required component is up; an optional one being down only degrades."""
        return all(c.status == "up" for c in self.components if c.required)

    @property
    def status(self) -> Literal["ready", "degraded", "unavailable"]:
        if not self.ready:
            return "unavailable"
        if any(c.status == "down" for c in self.components):
            return "degraded"
        return "ready"
