"""Analytics: what the platform's model calls used and cost, grouped, with latency percentiles.

Pure rules: which groupings and periods exist, which date ranges may be asked for, and the latency
histograms of the daily rollup with the percentiles read from them (the linear interpolation of
PostgreSQL's ``percentile_cont``, over calls spread evenly across their bucket).
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from src.domain.shared.errors import InvalidInput

#: A range longer than this is refused (a year and a day: a leap year fits).
MAX_RANGE_DAYS = 366
#: Without ``from``, a range ends today and spans this many days.
DEFAULT_RANGE_DAYS = 30
MAX_LIMIT = 500
DEFAULT_LIMIT = 100


class InvalidAnalyticsQuery(InvalidInput):
    code = "invalid_analytics_query"
    title = "Invalid analytics query"


class UsageGroupBy(enum.StrEnum):
    DAY = "day"
    USER = "user"
    MODEL = "model"
    PROVIDER = "provider"
    API_KEY = "api_key"


class TopBy(enum.StrEnum):
    COST = "cost"
    REQUESTS = "requests"


class Period(enum.StrEnum):
    """The calendar period (UTC) that contains today: today, this ISO week, this month."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


_Choice = TypeVar("_Choice", bound=enum.StrEnum)


def parse_choice(kind: type[_Choice], value: str, name: str) -> _Choice:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise InvalidAnalyticsQuery(f"{name} must be one of {choices}", extra={"param": name}) from None


@dataclass(frozen=True, slots=True)
class DayRange:
    """UTC days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def each_day(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]


def day_range(start: date | None, end: date | None, *, today: date) -> DayRange:
    """The range asked for: ``end`` defaults to today, ``start`` to 30 days ending at ``end``."""
    last = end or today
    first = start or last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if first > last:
        raise InvalidAnalyticsQuery("from must not be after to", extra={"param": "from"})
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise InvalidAnalyticsQuery(f"at most {MAX_RANGE_DAYS} days at once", extra={"param": "from"})
    return DayRange(first, last)


def period_range(period: Period, *, now: datetime) -> DayRange:
    today = now.astimezone(UTC).date()
    if period is Period.DAY:
        return DayRange(today, today)
    if period is Period.WEEK:
        return DayRange(today - timedelta(days=today.weekday()), today)
    return DayRange(today.replace(day=1), today)


def checked_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidAnalyticsQuery(f"limit must be from 1 to {MAX_LIMIT}", extra={"param": "limit"})
    return limit


@dataclass(frozen=True, slots=True)
class UsageStats:
    """The model calls of one group (a day, a user, a model, a provider, an API key) or of all."""

    key: str
    requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost_micros: int
    #: Calls that ended in error (what they generated is still charged).
    errors: int
    #: Calls answered by a fallback model.
    fallbacks: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    #: A readable name for the key where there is one (a user's email, an API key's name).
    label: str | None = None


# -- latency histograms ------------------------------------------------------------------------------
#
# The daily rollup keeps each day's latencies as counts per bucket, not one value per call: reading a
# month of them is then a few thousand small rows, whatever the number of calls. Buckets are narrow
# where latencies usually are (5 ms below 200 ms, 20 ms below 1 s, 100 ms below 5 s, 500 ms below 20 s,
# 5 s below 2 min, then a minute), so a percentile read from them is off by at most half a bucket.

#: (upper bound exclusive, bucket width), in milliseconds; beyond the last bound, buckets of a minute.
_BUCKET_STEPS: tuple[tuple[int, int], ...] = ((200, 5), (1_000, 20), (5_000, 100), (20_000, 500), (120_000, 5_000))
_LAST_WIDTH = 60_000


def latency_bucket(ms: int) -> int:
    """The lower bound of the bucket ``ms`` falls in."""
    value = max(0, ms)
    for upper, width in _BUCKET_STEPS:
        if value < upper:
            return value - value % width
    return value - value % _LAST_WIDTH


def bucket_width(lower: int) -> int:
    for upper, width in _BUCKET_STEPS:
        if lower < upper:
            return width
    return _LAST_WIDTH


def histogram_percentile(histogram: Mapping[int, int], fraction: float) -> float | None:
    """``percentile_cont(fraction)`` of the calls a histogram counts, each bucket's calls taken as spread
    evenly across it (the k-th of c calls in ``[lower, lower + width)`` at ``lower + width * (k + 0.5) / c``);
    ``None`` when it counts nothing."""
    return histogram_percentiles(histogram, (fraction,))[0]


def histogram_percentiles(histogram: Mapping[int, int], fractions: Sequence[float]) -> list[float | None]:
    """``histogram_percentile`` of each of ``fractions``, sorting and counting the histogram once."""
    buckets = sorted((lower, count) for lower, count in histogram.items() if count > 0)
    total = sum(count for _, count in buckets)
    if not total:
        return [None for _ in fractions]
    # The number of calls below each bucket, to find a rank's bucket by bisection.
    below: list[int] = []
    running = 0
    for _, count in buckets:
        below.append(running)
        running += count

    def value_at(rank: int) -> float:
        index = bisect.bisect_right(below, rank) - 1
        lower, count = buckets[index]
        return lower + bucket_width(lower) * (rank - below[index] + 0.5) / count

    found: list[float | None] = []
    for fraction in fractions:
        position = fraction * (total - 1)
        low_rank, high_rank = math.floor(position), math.ceil(position)
        low, high = value_at(low_rank), value_at(high_rank)
        found.append(low + (high - low) * (position - low_rank))
    return found
