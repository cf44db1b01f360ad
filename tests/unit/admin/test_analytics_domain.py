"""The analytics' pure rules: ranges, periods, choices, limits, latency histograms and their percentiles."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime

import pytest

from src.domain.admin.analytics import (
    MAX_RANGE_DAYS,
    InvalidAnalyticsQuery,
    Period,
    UsageGroupBy,
    bucket_width,
    checked_limit,
    day_range,
    histogram_percentile,
    histogram_percentiles,
    latency_bucket,
    parse_choice,
    period_range,
)

TODAY = date(2026, 12, 6)


def test_a_range_defaults_to_the_thirty_days_ending_today() -> None:
    days = day_range(None, None, today=TODAY)
    assert (days.start, days.end, days.days) == (date(2026, 11, 7), TODAY, 30)
    assert days.each_day()[0] == days.start
    assert days.each_day()[-1] == days.end
    # Only `to`: the thirty days ending there.
    assert day_range(None, date(2026, 1, 30), today=TODAY).start == date(2026, 1, 1)


def test_a_range_backwards_or_longer_than_a_leap_year_is_refused() -> None:
    with pytest.raises(InvalidAnalyticsQuery, match="after"):
        day_range(date(2026, 12, 2), date(2026, 12, 1), today=TODAY)
    longest = day_range(date(2024, 1, 1), date(2024, 12, 31), today=TODAY)
    assert longest.days == MAX_RANGE_DAYS
    with pytest.raises(InvalidAnalyticsQuery, match="366"):
        day_range(date(2024, 1, 1), date(2025, 1, 1), today=TODAY)


def test_periods_are_the_calendar_day_week_and_month_so_far() -> None:
    now = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)  # a Thursday
    assert period_range(Period.DAY, now=now) == day_range(date(2026, 12, 10), date(2026, 12, 10), today=TODAY)
    assert period_range(Period.WEEK, now=now).start == date(2026, 12, 7)
    assert period_range(Period.MONTH, now=now).start == date(2026, 12, 1)


def test_choices_and_limits_are_checked_naming_the_parameter() -> None:
    assert parse_choice(UsageGroupBy, "api_key", "group_by") is UsageGroupBy.API_KEY
    with pytest.raises(InvalidAnalyticsQuery) as refused:
        parse_choice(UsageGroupBy, "role", "group_by")
    assert refused.value.extra["param"] == "group_by"
    assert "day, user, model, provider, api_key" in refused.value.detail
    assert checked_limit(None) == 100
    for wrong in (0, 501):
        with pytest.raises(InvalidAnalyticsQuery):
            checked_limit(wrong)


def percentile_cont(ordered: list[int], fraction: float) -> float:
    """PostgreSQL's definition: the value at position ``fraction * (n - 1)``, interpolated linearly."""
    if len(ordered) == 1:
        return float(ordered[0])
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")  # the same definition
    return cuts[round(fraction * 100) - 1]


def test_latency_buckets_are_narrow_where_latencies_usually_are() -> None:
    assert [latency_bucket(ms) for ms in (0, 4, 5, 199, 200, 999, 1000, 4999, 5000, 19_999, 20_000)] == [
        0, 0, 5, 195, 200, 980, 1000, 4900, 5000, 19_500, 20_000
    ]  # fmt: skip
    assert latency_bucket(130_000) == 120_000
    assert latency_bucket(-3) == 0
    assert [bucket_width(b) for b in (0, 200, 1000, 5000, 20_000, 120_000)] == [5, 20, 100, 500, 5000, 60_000]


def test_a_histogram_percentile_is_within_a_bucket_of_the_exact_one() -> None:
    values = [(n * 7919) % 4000 + 150 for n in range(3000)]
    histogram: dict[int, int] = {}
    for value in values:
        histogram[latency_bucket(value)] = histogram.get(latency_bucket(value), 0) + 1
    ordered = sorted(values)
    for fraction in (0.5, 0.95, 0.99):
        exact = percentile_cont(ordered, fraction)
        found = histogram_percentile(histogram, fraction)
        assert found == pytest.approx(exact, abs=bucket_width(latency_bucket(int(exact))))
    assert histogram_percentile({}, 0.5) is None
    # One call in a bucket sits in its middle; two in one bucket at its quarters.
    assert histogram_percentile({100: 1}, 0.5) == 102.5
    assert histogram_percentile({100: 2}, 0.0) == 101.25


def _walked_percentile(histogram: dict[int, int], fraction: float) -> float | None:
    """The percentile by walking the buckets call by call (the definition, slowly)."""
    spread = [
        lower + bucket_width(lower) * (k + 0.5) / count
        for lower, count in sorted(histogram.items())
        for k in range(count)
    ]
    if not spread:
        return None
    position = fraction * (len(spread) - 1)
    low, high = spread[int(position)], spread[min(int(position) + 1, len(spread) - 1)]
    return low + (high - low) * (position - int(position))


def test_several_percentiles_at_once_are_each_the_walked_one() -> None:
    histograms = [
        {},
        {100: 1},
        {0: 3, 5: 0, 200: 1},
        {latency_bucket((n * 104729) % 9000): 1 + n % 4 for n in range(60)},
        {latency_bucket(n * 977): n % 3 for n in range(1, 200)},
    ]
    fractions = (0.0, 0.01, 0.5, 0.95, 0.99, 1.0)
    for histogram in histograms:
        found = histogram_percentiles(histogram, fractions)
        for fraction, value in zip(fractions, found, strict=True):
            expected = _walked_percentile(histogram, fraction)
            assert value == (None if expected is None else pytest.approx(expected)), (histogram, fraction)
