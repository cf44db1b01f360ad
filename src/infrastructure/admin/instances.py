"""Instances' heartbeats: each API and worker process says every few seconds that it is alive, and
what it holds (open WebSockets, replies streaming, recent HTTP errors, breaker states).

With Redis, a heartbeat is one key per process, ``parley:instance:<id>``, whose expiry is three
heartbeats: a process that stopped (or crashed) drops out of the list on its own within that time.
Without Redis (or while it is out of reach) the list is this process alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from src.application.admin.ports import InstanceReport
from src.application.shared.ports import Clock
from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.resilience import CircuitBreaker
from src.infrastructure.tasks import cancel_and_wait, raise_if_cancelled

logger = get_logger("parley.admin")

KEY_PREFIX = "parley:instance:"
#: A heartbeat outlives this many intervals: one late heartbeat does not drop an instance.
TTL_INTERVALS = 3
#: The recent error rate counts the HTTP requests of about this many seconds.
RECENT_WINDOW_SECONDS = 300.0
_BREAKER_STATES = {0: "closed", 1: "half_open", 2: "open"}


def breaker_states(providers: Iterable[str] = ()) -> dict[str, str]:
    """Every circuit breaker this process has (``redis``, ``llm:<provider>``) and its state; a
    provider not called yet has a closed one."""
    states: dict[str, str] = {f"llm:{provider}": "closed" for provider in providers}
    for family in METRICS.breaker_state.collect():
        for sample in family.samples:
            states[sample.labels["breaker"]] = _BREAKER_STATES.get(int(sample.value), "unknown")
    return dict(sorted(states.items()))


def http_totals() -> tuple[int, int]:
    """HTTP requests answered by this process since it started, and how many were 5xx."""
    requests = errors = 0
    for family in METRICS.http_requests.collect():
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            requests += int(sample.value)
            if sample.labels.get("status", "").startswith("5"):
                errors += int(sample.value)
    return requests, errors


class RecentCounts:
    """Requests and server errors over the last ``window`` seconds, from the running totals
    sampled at each heartbeat (the oldest sample still inside the window is the baseline)."""

    def __init__(
        self,
        totals: Callable[[], tuple[int, int]] = http_totals,
        *,
        window: float = RECENT_WINDOW_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._totals = totals
        self._window = window
        self._monotonic = monotonic
        # The baseline: what had been counted when this process started counting.
        self._samples: deque[tuple[float, int, int]] = deque([(monotonic(), *totals())])

    def now(self) -> tuple[int, int]:
        at = self._monotonic()
        requests, errors = self._totals()
        self._samples.append((at, requests, errors))
        while len(self._samples) > 1 and at - self._samples[1][0] >= self._window:
            self._samples.popleft()
        _, base_requests, base_errors = self._samples[0]
        return requests - base_requests, errors - base_errors


class InstanceRegistry:
    """``InstanceRegistry`` port: this process's heartbeat, and every live instance's."""

    def __init__(
        self,
        *,
        role: str,
        version: str,
        clock: Clock,
        redis: Redis | None,
        breaker: CircuitBreaker,
        timeout: float,
        interval: float,
        open_websockets: Callable[[], int],
        streaming_replies: Callable[[], int],
        providers: Sequence[str] = (),
        recent: RecentCounts | None = None,
    ) -> None:
        self.instance_id = uuid.uuid4().hex[:12]
        self._role = role
        self._version = version
        self._clock = clock
        self._redis = redis
        self._breaker = breaker
        self._timeout = timeout
        self._interval = interval
        self._open_websockets = open_websockets
        self._streaming_replies = streaming_replies
        self._recent = recent or RecentCounts()
        self._providers = tuple(providers)
        self._started_at = clock.now()
        self._host = socket.gethostname()
        self._task: asyncio.Task[None] | None = None
        #: API and worker processes serve, and beat; a CLI command (``parley status``) only looks.
        self._serves = role in ("api", "worker")

    @property
    def shared(self) -> bool:
        return self._redis is not None

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}{self.instance_id}"

    def local(self) -> InstanceReport:
        requests, errors = self._recent.now()
        return InstanceReport(
            instance_id=self.instance_id,
            role=self._role,
            host=self._host,
            pid=os.getpid(),
            version=self._version,
            started_at=self._started_at,
            seen_at=self._clock.now(),
            open_websockets=self._open_websockets(),
            streaming_replies=self._streaming_replies(),
            recent_requests=requests,
            recent_server_errors=errors,
            breakers=breaker_states(self._providers),
        )

    async def beat(self) -> bool:
        """Publish this process's report now; ``False`` when Redis is absent or out of reach."""
        redis = self._redis
        if redis is None:
            return False
        body = json.dumps(_encode(self.local()))
        ttl_ms = max(1000, int(self._interval * TTL_INTERVALS * 1000))

        async def publish() -> bool:
            async with asyncio.timeout(self._timeout):
                await redis.set(self.key, body, px=ttl_ms)
            return True

        async def skipped() -> bool:
            return False

        return await self._breaker.call(publish, skipped)

    async def instances(self) -> list[InstanceReport]:
        """Every instance whose heartbeat has not expired, this one first (fresh, not its last beat).
        A CLI process lists only the serving instances, unless there is no Redis to find them in."""
        mine = self.local()
        redis = self._redis
        if redis is None:
            return [mine]

        async def read() -> list[InstanceReport]:
            async with asyncio.timeout(self._timeout * 4):
                keys = [k async for k in redis.scan_iter(match=f"{KEY_PREFIX}*", count=100)]
                bodies = await redis.mget(keys) if keys else []
            others: list[InstanceReport] = []
            for body in bodies:
                report = _decode(body)
                if report is not None and report.instance_id != self.instance_id:
                    others.append(report)
            others.sort(key=lambda r: (r.role, r.started_at, r.instance_id))
            return [mine, *others] if self._serves else others

        async def alone() -> list[InstanceReport]:
            return [mine]

        return await self._breaker.call(read, alone)

    # -- the heartbeat loop (API and worker processes) ---------------------------------------------

    async def start(self) -> None:
        if self._redis is None or self._task is not None or not self._serves:
            return
        self._task = asyncio.create_task(self._run(), name="instance-heartbeat")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        redis = self._redis
        if redis is not None:
            # Leave the list at once rather than when the heartbeat expires.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._timeout):
                    await redis.delete(self.key)

    async def _run(self) -> None:
        while True:
            raise_if_cancelled()
            try:
                await self.beat()
            except Exception as exc:  # noqa: BLE001 - a missed heartbeat is retried at the next
                logger.warning("heartbeat_failed", error=type(exc).__name__)
            await asyncio.sleep(self._interval)


def _encode(report: InstanceReport) -> dict[str, Any]:
    return {
        "instance_id": report.instance_id,
        "role": report.role,
        "host": report.host,
        "pid": report.pid,
        "version": report.version,
        "started_at": report.started_at.isoformat(),
        "seen_at": report.seen_at.isoformat(),
        "open_websockets": report.open_websockets,
        "streaming_replies": report.streaming_replies,
        "recent_requests": report.recent_requests,
        "recent_server_errors": report.recent_server_errors,
        "breakers": dict(report.breakers),
    }


def _decode(body: Any) -> InstanceReport | None:
    """A heartbeat read back; ``None`` for one that is not (another version's, a damaged one)."""
    if body is None:
        return None
    try:
        data = json.loads(body)
        return InstanceReport(
            instance_id=str(data["instance_id"]),
            role=str(data["role"]),
            host=str(data["host"]),
            pid=int(data["pid"]),
            version=str(data["version"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            seen_at=datetime.fromisoformat(data["seen_at"]),
            open_websockets=int(data["open_websockets"]),
            streaming_replies=int(data["streaming_replies"]),
            recent_requests=int(data["recent_requests"]),
            recent_server_errors=int(data["recent_server_errors"]),
            breakers={str(k): str(v) for k, v in dict(data.get("breakers", {})).items()},
        )
    except (ValueError, KeyError, TypeError):
        return None
