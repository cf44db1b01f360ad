"""Analytics: what the platform's model calls used and cost, grouped, with latency percentiles.

Pure rules: which groupings and periods exist, which date ranges may be asked for, and the
percentile (the same linear interpolation as PostgreSQL's ``percentile_cont``) used where the
database cannot compute it (SQLite).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from src.domain.shared.errors import InvalidInput

#: A range longer than this is refused (a year and a day: a leap year fits).
MAX_RANGE_DAYS = 366
#: Without ``from``, a range ends today and spans this many days.
DEFAULT_RANGE_DAYS = 30
MAX_LIMIT = 1000
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


def percentile_cont(sorted_values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's ``percentile_cont(fraction)`` of ``sorted_values`` (ascending); ``None`` when empty.

    The value at position ``fraction * (n - 1)``, interpolated linearly between its neighbours.
    """
    if not sorted_values:
        return None
    position = fraction * (len(sorted_values) - 1)
    below = math.floor(position)
    above = math.ceil(position)
    low, high = float(sorted_values[below]), float(sorted_values[above])
    return low + (high - low) * (position - below)


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
