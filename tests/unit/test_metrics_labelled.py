"""``labelled``: a remembered ``metric.labels(...)`` that still counts in the metric's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from src.infrastructure.observability.metrics import labelled


def test_the_same_child_is_returned_and_counts_land_in_the_registry() -> None:
    registry = CollectorRegistry()
    counter = Counter("probe_total", "probe", ["route", "status"], registry=registry)
    first = labelled(counter, "/a", "200")
    assert labelled(counter, "/a", "200") is first
    first.inc()
    labelled(counter, "/a", "200").inc()
    labelled(counter, "/a", "404").inc()
    assert registry.get_sample_value("probe_total", {"route": "/a", "status": "200"}) == 2
    assert registry.get_sample_value("probe_total", {"route": "/a", "status": "404"}) == 1


def test_two_metrics_with_the_same_label_values_keep_their_own_children() -> None:
    registry = CollectorRegistry()
    one = Counter("one_total", "one", ["x"], registry=registry)
    two = Counter("two_total", "two", ["x"], registry=registry)
    labelled(one, "v").inc()
    labelled(two, "v").inc(3)
    assert registry.get_sample_value("one_total", {"x": "v"}) == 1
    assert registry.get_sample_value("two_total", {"x": "v"}) == 3
