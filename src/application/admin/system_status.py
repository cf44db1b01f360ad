"""GetSystemStatus: is the platform healthy right now? For admins (``system:read``).

Every running instance (its heartbeat: uptime, open WebSockets, replies streaming, recent HTTP
errors, breaker states), the database's and Redis's round trip, and background jobs (queue depth,
failed jobs, outbox backlog). Nothing here fails because a dependency is down: the status says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from src.application.admin.ports import (
    DependencyLatency,
    InstanceRegistry,
    InstanceReport,
    JobsState,
    SystemProbes,
)
from src.application.shared.ports import Clock
from src.domain.identity.model import Permission, Principal
from src.domain.shared.errors import PermissionDenied

#: The worse of two breaker states wins when instances disagree.
_SEVERITY = {"closed": 0, "half_open": 1, "unknown": 1, "open": 2}


@dataclass(frozen=True, slots=True)
class InstanceStatus:
    report: InstanceReport
    uptime_seconds: float
    #: This process (the one answering).
    current: bool


@dataclass(frozen=True, slots=True)
class SystemStatus:
    version: str
    checked_at: datetime
    #: Whether other instances are seen (Redis) or only this one.
    instances_shared: bool
    instances: list[InstanceStatus]
    database: DependencyLatency
    redis: DependencyLatency
    jobs: JobsState
    #: Each breaker's worst state across instances (``llm:<provider>``, ``redis``).
    breakers: dict[str, str]
    open_websockets: int
    streaming_replies: int
    recent_requests: int
    recent_server_errors: int

    @property
    def recent_error_rate(self) -> float:
        """Server errors per request answered recently, across instances (0 when none were)."""
        return round(self.recent_server_errors / self.recent_requests, 4) if self.recent_requests else 0.0


class GetSystemStatus:
    def __init__(self, registry: InstanceRegistry, probes: SystemProbes, clock: Clock, *, version: str) -> None:
        self._registry = registry
        self._probes = probes
        self._clock = clock
        self._version = version

    async def __call__(self, principal: Principal) -> SystemStatus:
        if not principal.can(Permission.SYSTEM_READ):
            raise PermissionDenied(f"This needs the {Permission.SYSTEM_READ.value} permission")
        instances, database, redis, jobs = await asyncio.gather(
            self._registry.instances(), self._probes.database(), self._probes.redis(), self._probes.jobs()
        )
        now = self._clock.now()
        current = self._registry.instance_id
        breakers: dict[str, str] = {}
        for report in instances:
            for name, state in report.breakers.items():
                if _SEVERITY.get(state, 1) >= _SEVERITY.get(breakers.get(name, "closed"), 0):
                    breakers[name] = state
        return SystemStatus(
            version=self._version,
            checked_at=now,
            instances_shared=self._registry.shared,
            instances=[
                InstanceStatus(
                    report=r,
                    uptime_seconds=round(max(0.0, (now - r.started_at).total_seconds()), 1),
                    current=r.instance_id == current,
                )
                for r in instances
            ],
            database=database,
            redis=redis,
            jobs=jobs,
            breakers=dict(sorted(breakers.items())),
            open_websockets=sum(r.open_websockets for r in instances),
            streaming_replies=sum(r.streaming_replies for r in instances),
            recent_requests=sum(r.recent_requests for r in instances),
            recent_server_errors=sum(r.recent_server_errors for r in instances),
        )
