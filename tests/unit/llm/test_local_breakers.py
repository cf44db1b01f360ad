"""Per-process provider breakers: the state machine per provider, its metric and its log lines."""

from __future__ import annotations

from src.domain.llm.routing import CircuitPosition
from src.infrastructure.llm.breakers import BreakerReporter, LocalProviderBreakers
from src.infrastructure.observability.metrics import METRICS
from tests.fakes.shared import FakeClock
from tests.logs import capture_logs


def gauge(provider: str) -> float | None:
    return METRICS.registry.get_sample_value("parley_circuit_breaker_state", {"breaker": f"llm:{provider}"})


async def test_each_provider_has_its_own_breaker_exported_and_logged_once_per_switch() -> None:
    clock = FakeClock()
    breakers = LocalProviderBreakers(min_calls=2, reset_after=10, clock=clock.monotonic, reporter=BreakerReporter(10))
    with capture_logs() as logs:
        await breakers.record_failure("unit-a")
        await breakers.record_failure("unit-a")
        assert not await breakers.allow("unit-a")
        assert not await breakers.allow("unit-a")
        assert await breakers.allow("unit-b")
        assert gauge("unit-a") == 2
        assert gauge("unit-b") == 0

        clock.advance(10)
        assert breakers.position("unit-a") is CircuitPosition.HALF_OPEN
        assert await breakers.allow("unit-a")
        assert gauge("unit-a") == 1
        await breakers.record_success("unit-a")
        assert gauge("unit-a") == 0
    assert [(e["event"], e["breaker"]) for e in logs.events() if e["event"].startswith("circuit_")] == [
        ("circuit_opened", "llm:unit-a"),
        ("circuit_closed", "llm:unit-a"),
    ]


async def test_a_released_probe_lets_the_next_caller_probe() -> None:
    clock = FakeClock()
    breakers = LocalProviderBreakers(min_calls=1, reset_after=5, clock=clock.monotonic)
    await breakers.record_failure("p")
    clock.advance(5)
    assert await breakers.allow("p")
    assert not await breakers.allow("p")
    await breakers.release("p")
    assert await breakers.allow("p")
