"""CheckReadiness: probe every dependency at once and report whether Parley can serve."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from src.application.shared.ports import Clock, HealthProbe
from src.domain.shared.health import ComponentHealth, ReadinessReport


@dataclass(slots=True, frozen=True)
class CheckReadinessCommand:
    timeout_seconds: float = 2.0


class CheckReadiness:
    def __init__(self, probes: Sequence[HealthProbe], clock: Clock) -> None:
        self._probes = tuple(probes)
        self._clock = clock

    async def __call__(self, command: CheckReadinessCommand) -> ReadinessReport:
        results = await asyncio.gather(*(self._probe(p, command.timeout_seconds) for p in self._probes))
        return ReadinessReport(components=tuple(results))

    async def _probe(self, probe: HealthProbe, timeout: float) -> ComponentHealth:
        started = self._clock.monotonic()
        error: str | None = None
        details: tuple[tuple[str, str | int | float | None], ...] = ()
        try:
            async with asyncio.timeout(timeout):
                found = await probe.check()
            details = tuple(sorted(found.items()))
        except TimeoutError:
            error = f"no answer within {timeout:g} s"
        except Exception as exc:  # noqa: BLE001 - any failure of a probe means "down", never a crash
            error = _describe(exc)
        latency_ms = round((self._clock.monotonic() - started) * 1000, 2)
        return ComponentHealth(
            name=probe.name,
            status="down" if error else "up",
            required=probe.required,
            latency_ms=latency_ms,
            error=error,
            details=details,
        )


def _describe(exc: BaseException) -> str:
    # The class name and first line are enough to act on; never the full repr (it may hold a DSN).
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message}"[:200] if message else type(exc).__name__
