from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from src.domain.shared.errors import DomainError, NotFound
from src.domain.shared.health import ComponentHealth, ReadinessReport
from src.domain.shared.jobs import DEFAULT_RECEIPT_RETENTION, JobReceipt

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def test_receipt_expires_after_its_retention() -> None:
    receipt = JobReceipt.issue("prune", "key-1", now=NOW)
    assert receipt.expires_at == NOW + DEFAULT_RECEIPT_RETENTION
    assert not receipt.is_expired(NOW + DEFAULT_RECEIPT_RETENTION - timedelta(seconds=1))
    assert receipt.is_expired(NOW + DEFAULT_RECEIPT_RETENTION)


@pytest.mark.parametrize(("name", "key"), [("", "k"), ("job", "")])
def test_receipt_needs_a_name_and_a_key(name: str, key: str) -> None:
    with pytest.raises(ValueError):
        JobReceipt.issue(name, key, now=NOW)


def test_receipt_refuses_naive_times() -> None:
    with pytest.raises(ValueError):
        JobReceipt.issue("job", "key", now=datetime(2026, 1, 1))  # noqa: DTZ001


def component(name: str, status: str, required: bool) -> ComponentHealth:
    return ComponentHealth(name=name, status=status, required=required, latency_ms=1.0)  # type: ignore[arg-type]


def test_readiness_is_degraded_when_only_an_optional_component_is_down() -> None:
    report = ReadinessReport((component("database", "up", True), component("redis", "down", False)))
    assert report.ready
    assert report.status == "degraded"


def test_readiness_fails_when_a_required_component_is_down() -> None:
    report = ReadinessReport((component("database", "down", True), component("redis", "up", False)))
    assert not report.ready
    assert report.status == "unavailable"


def test_domain_errors_carry_a_stable_code_and_a_default_detail() -> None:
    error = NotFound()
    assert error.code == "not_found"
    assert error.detail == "Not found"
    assert isinstance(error, DomainError)
    assert NotFound("conversation 7 is gone", extra={"id": 7}).extra == {"id": 7}
