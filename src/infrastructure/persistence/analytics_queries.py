"""The admin analytics' queries (``AnalyticsReader``), on PostgreSQL and SQLite.

Usage figures come from ``usage_daily``, the rollup kept with every usage record in its transaction
(one row per day, user, model and API key): its sums are the records' sums exactly, and a month of
it is a few rows per active user and day, whatever the number of calls. Latency percentiles come
from per-bucket counts, merged here (``domain.admin.analytics.histogram_percentiles``: the same
interpolation as ``percentile_cont``, each bucket's calls spread across it), on both databases: all
calls', a day's, a model's, a provider's and those without an API key from ``usage_daily_model``
(one row per day, model and with or without a key, kept with the same records), a user's or an API
key's from ``usage_daily`` through its indexes, for the groups listed only.
Merging in Python costs per row, so no report merges a month of ``usage_daily``.
Top spenders of a month read ``usage_month``; sign-ups and articles read ``user_account`` and
``article`` through their ``created_at`` indexes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import ColumnElement, Date, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from src.application.admin.ports import (
    ArticleDay,
    ContentAnalytics,
    Spender,
    TagCount,
    UsageAnalytics,
    UserActivityDay,
)
from src.application.usage.ports import NO_API_KEY
from src.domain.admin.analytics import (
    DayRange,
    TopBy,
    UsageGroupBy,
    UsageStats,
    histogram_percentiles,
)
from src.infrastructure.persistence.chat_models import UsageDailyModel, UsageModelDayModel, UsageMonthModel
from src.infrastructure.persistence.knowledge_models import ArticleModel, ArticleTagModel, TagModel
from src.infrastructure.persistence.models import ApiKeyModel, UserModel
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.persistence.usage_repositories import NO_KEY_ID

_D = UsageDailyModel
_M = UsageModelDayModel
#: Where a coarse rollup row (day, provider, model, with_api_key, ...) holds the key of the groupings it
#: serves (by user or API key: the calls made with a key or without).
_COARSE_KEY = {UsageGroupBy.DAY: 0, UsageGroupBy.PROVIDER: 1, UsageGroupBy.MODEL: 2}
#: A rollup row's histogram, ``{"<bucket>": calls}`` (msgspec: a month of rows is thousands of them).
_HISTOGRAM = msgspec.json.Decoder(dict[str, int])
_TOTAL = "total"
#: The percentiles reported.
_FRACTIONS = (0.5, 0.95)


def _group_key(group_by: UsageGroupBy) -> Any:
    return {
        UsageGroupBy.DAY: _D.usage_date,
        UsageGroupBy.USER: _D.user_id,
        UsageGroupBy.MODEL: _D.model,
        UsageGroupBy.PROVIDER: _D.provider,
        UsageGroupBy.API_KEY: _D.api_key_id,
    }[group_by]


def _in_range(days: DayRange) -> ColumnElement[bool]:
    return and_(_D.usage_date >= days.start, _D.usage_date <= days.end)


def _key_text(value: Any) -> str:
    if value is None or value == NO_KEY_ID:
        return NO_API_KEY
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _sums() -> list[Any]:
    return [
        func.coalesce(func.sum(column), 0)
        for column in (
            _D.requests,
            _D.input_tokens,
            _D.output_tokens,
            _D.cached_tokens,
            _D.reasoning_tokens,
            _D.cost_micros,
            _D.errors,
            _D.fallbacks,
        )
    ]


class _Latencies:
    """The merged latency and time-to-first-token histograms of one group (bucket keys kept as the
    JSON's strings while merging: thousands of buckets are merged per report)."""

    __slots__ = ("latency", "ttft")

    def __init__(self) -> None:
        self.latency: dict[str, int] = {}
        self.ttft: dict[str, int] = {}

    def add(self, latency: dict[str, int], ttft: dict[str, int]) -> None:
        into = self.latency
        get = into.get
        for bucket, calls in latency.items():
            into[bucket] = get(bucket, 0) + calls
        into = self.ttft
        get = into.get
        for bucket, calls in ttft.items():
            into[bucket] = get(bucket, 0) + calls

    def merge(self, other: _Latencies) -> None:
        self.add(other.latency, other.ttft)

    def percentiles(self) -> list[float | None]:
        return [
            *histogram_percentiles({int(bucket): calls for bucket, calls in self.latency.items()}, _FRACTIONS),
            *histogram_percentiles({int(bucket): calls for bucket, calls in self.ttft.items()}, _FRACTIONS),
        ]


def _stats(key: str, sums: Iterable[Any], percentiles: Iterable[float | None], label: str | None = None) -> UsageStats:
    n, i, o, c, r, cost, errors, fallbacks = (int(v or 0) for v in sums)
    lat50, lat95, ttft50, ttft95 = (round(float(p), 1) if p is not None else None for p in percentiles)
    return UsageStats(
        key=key,
        requests=n,
        input_tokens=i,
        output_tokens=o,
        cached_tokens=c,
        reasoning_tokens=r,
        cost_micros=cost,
        errors=errors,
        fallbacks=fallbacks,
        latency_p50_ms=lat50,
        latency_p95_ms=lat95,
        ttft_p50_ms=ttft50,
        ttft_p95_ms=ttft95,
        label=label,
    )


def _day_of(column: Any, dialect: str) -> Any:
    """The UTC day of a timestamp column, in SQL."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)  # SQLite stores UTC text: its first ten characters are the day


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _instants(days: DayRange) -> tuple[datetime, datetime]:
    """``[start, end)``: the range's first instant and the instant after its last day."""
    start = datetime.combine(days.start, time(), tzinfo=UTC)
    return start, datetime.combine(days.end + timedelta(days=1), time(), tzinfo=UTC)


class SqlAnalyticsReader:
    def __init__(self, uow: SqlAlchemyUnitOfWorkFactory) -> None:
        self._uow = uow

    async def usage(self, days: DayRange, group_by: UsageGroupBy, *, limit: int) -> UsageAnalytics:
        async with self._uow(read_only=True) as tx:
            session = tx.session
            key = _group_key(group_by)
            cost = func.coalesce(func.sum(_D.cost_micros), 0)
            order = [key] if group_by is UsageGroupBy.DAY else [cost.desc(), key]
            # The groups' sums, and (a window over every group, before the limit) all calls' sums.
            every_group = [func.sum(column).over() for column in _sums()]
            grouped = (
                select(key, *_sums(), *every_group).where(_in_range(days)).group_by(key).order_by(*order).limit(limit)
            )
            rows = (await session.execute(grouped)).all()
            totals: Sequence[Any] = rows[0][9:17] if rows else [0] * 8
            # The coarse rollup's rows (at most two per day and model called), each merged once: into
            # its day's, model's or provider's group, or (grouped by user or API key) into the calls'
            # made with a key or without; all calls' are then the sum of these parts.
            coarse = await session.execute(
                select(
                    _M.usage_date, _M.provider, _M.model, _M.with_api_key, _M.latency_histogram, _M.ttft_histogram
                ).where(_M.usage_date >= days.start, _M.usage_date <= days.end)
            )
            at = _COARSE_KEY.get(group_by, 3)
            parts: dict[Any, _Latencies] = {}
            for row in coarse:
                part = parts.get(row[at])
                if part is None:
                    part = parts[row[at]] = _Latencies()
                part.add(_HISTOGRAM.decode(row[4]), _HISTOGRAM.decode(row[5]))
            overall = _Latencies()
            for part in parts.values():
                overall.merge(part)
            if group_by in _COARSE_KEY:
                listed = {row[0]: parts.get(row[0]) or _Latencies() for row in rows}
            else:
                listed = {row[0]: _Latencies() for row in rows}
                if group_by is UsageGroupBy.API_KEY and NO_KEY_ID in listed:
                    listed[NO_KEY_ID] = parts.get(False) or _Latencies()
            # A user's or an API key's: from the fine rollup, for the groups listed only.
            wanted = [] if group_by in _COARSE_KEY else [k for k in listed if k != NO_KEY_ID]
            if wanted:
                fine = select(key, _D.latency_histogram, _D.ttft_histogram).where(
                    _in_range(days), key.in_(wanted), or_(_D.latency_histogram != "{}", _D.ttft_histogram != "{}")
                )
                for k, latency_text, ttft_text in await session.execute(fine):
                    listed[k].add(_HISTOGRAM.decode(latency_text), _HISTOGRAM.decode(ttft_text))
            labels = await self._labels(session, group_by, list(listed))
        stats = [_stats(_key_text(row[0]), row[1:9], listed[row[0]].percentiles(), labels.get(row[0])) for row in rows]
        return UsageAnalytics(
            days=days, group_by=group_by, items=stats, totals=_stats(_TOTAL, totals, overall.percentiles())
        )

    async def _labels(self, session: AsyncSession, group_by: UsageGroupBy, keys: list[Any]) -> dict[Any, str]:
        """Readable names: a user's email, an API key's name."""
        wanted = [k for k in keys if k is not None and k != NO_KEY_ID]
        if not wanted:
            return {}
        if group_by is UsageGroupBy.USER:
            rows = await session.execute(select(UserModel.id, UserModel.email).where(UserModel.id.in_(wanted)))
        elif group_by is UsageGroupBy.API_KEY:
            rows = await session.execute(select(ApiKeyModel.id, ApiKeyModel.name).where(ApiKeyModel.id.in_(wanted)))
        else:
            return {}
        return {k: str(name) for k, name in rows}

    async def user_activity(self, days: DayRange) -> list[UserActivityDay]:
        start, after = _instants(days)
        async with self._uow(read_only=True) as tx:
            session = tx.session
            dialect = session.get_bind().dialect.name
            signup_day = _day_of(UserModel.created_at, dialect)
            signups = await session.execute(
                select(signup_day, UserModel.tier, func.count())
                .where(UserModel.created_at >= start, UserModel.created_at < after)
                .group_by(signup_day, UserModel.tier)
            )
            active = await session.execute(
                select(_D.usage_date, UserModel.tier, func.count(func.distinct(_D.user_id)))
                .join(UserModel, UserModel.id == _D.user_id)
                .where(_in_range(days))
                .group_by(_D.usage_date, UserModel.tier)
            )
            counts: defaultdict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
            for day, tier, n in signups:
                counts[(_as_date(day), str(tier))][0] = int(n)
            for day, tier, n in active:
                counts[(_as_date(day), str(tier))][1] = int(n)
        return [
            UserActivityDay(day=day, tier=tier, signups=s, active_users=a)
            for (day, tier), (s, a) in sorted(counts.items())
        ]

    async def content(self, days: DayRange, *, top_tags: int) -> ContentAnalytics:
        start, after = _instants(days)
        created = and_(ArticleModel.created_at >= start, ArticleModel.created_at < after)
        async with self._uow(read_only=True) as tx:
            session = tx.session
            day = _day_of(ArticleModel.created_at, session.get_bind().dialect.name)
            per_day = await session.execute(
                select(day, ArticleModel.status, func.count())
                .where(created)
                .group_by(day, ArticleModel.status)
                .order_by(day, ArticleModel.status)
            )
            items = [ArticleDay(day=_as_date(d), status=str(s), articles=int(n)) for d, s, n in per_day]
            uses = func.count()
            tags = await session.execute(
                select(TagModel.name, uses)
                .join(ArticleTagModel, ArticleTagModel.tag_id == TagModel.id)
                .join(ArticleModel, ArticleModel.id == ArticleTagModel.article_id)
                .where(created)
                .group_by(TagModel.name)
                .order_by(uses.desc(), TagModel.name)
                .limit(top_tags)
            )
            top = [TagCount(tag=str(name), articles=int(n)) for name, n in tags]
        return ContentAnalytics(days=days, items=items, top_tags=top)

    async def top_spenders(self, days: DayRange, by: TopBy, *, limit: int, whole_month: bool) -> list[Spender]:
        async with self._uow(read_only=True) as tx:
            session = tx.session
            if whole_month:
                # The month's running totals: one row per user who spent, kept with every record.
                totals = (
                    select(
                        UsageMonthModel.user_id.label("user_id"),
                        UsageMonthModel.requests.label("requests"),
                        UsageMonthModel.cost_micros.label("cost"),
                    )
                    .where(UsageMonthModel.month == days.start)
                    .subquery()
                )
            else:
                totals = (
                    select(
                        _D.user_id.label("user_id"),
                        func.sum(_D.requests).label("requests"),
                        func.sum(_D.cost_micros).label("cost"),
                    )
                    .where(_in_range(days))
                    .group_by(_D.user_id)
                    .subquery()
                )
            ranked = totals.c.cost if by is TopBy.COST else totals.c.requests
            query = (
                select(
                    UserModel.id,
                    UserModel.email,
                    UserModel.display_name,
                    UserModel.tier,
                    totals.c.requests,
                    totals.c.cost,
                )
                .join(totals, totals.c.user_id == UserModel.id)
                .order_by(ranked.desc(), UserModel.email)
                .limit(limit)
            )
            rows = (await session.execute(query)).all()
        return [
            Spender(
                user_id=UUID(str(user_id)),
                email=str(email),
                display_name=str(name),
                tier=str(tier),
                requests=int(requests or 0),
                cost_micros=int(cost or 0),
            )
            for user_id, email, name, tier, requests, cost in rows
        ]
