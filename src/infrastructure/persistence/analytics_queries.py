"""The admin analytics' queries (``AnalyticsReader``), on PostgreSQL and SQLite.

Every figure comes from the stored records: ``usage_record`` (one row per paid model call: replies,
titles, summaries, gateway completions, AI tools), ``usage_month`` (the running monthly totals kept
with each record), ``user_account``, ``article`` and its tags. A range of days is read through
``ix_usage_record_usage_date``. PostgreSQL computes the latency percentiles itself
(``percentile_cont``); SQLite has no such aggregate, so there they are computed here from the
range's latencies, with the same interpolation (``domain.admin.analytics.percentile_cont``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Date, Integer, and_, cast, func, select
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
from src.domain.admin.analytics import DayRange, TopBy, UsageGroupBy, UsageStats, percentile_cont
from src.infrastructure.persistence.chat_models import UsageMonthModel, UsageRecordModel
from src.infrastructure.persistence.knowledge_models import ArticleModel, ArticleTagModel, TagModel
from src.infrastructure.persistence.models import ApiKeyModel, UserModel
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory

_R = UsageRecordModel
_TOTAL = "total"
#: The percentiles reported: (column suffix, fraction).
_PERCENTILES = (("p50", 0.5), ("p95", 0.95))


def _group_key(group_by: UsageGroupBy) -> Any:
    return {
        UsageGroupBy.DAY: _R.usage_date,
        UsageGroupBy.USER: _R.user_id,
        UsageGroupBy.MODEL: _R.model,
        UsageGroupBy.PROVIDER: _R.provider,
        UsageGroupBy.API_KEY: _R.api_key_id,
    }[group_by]


def _in_range(days: DayRange) -> ColumnElement[bool]:
    return and_(_R.usage_date >= days.start, _R.usage_date <= days.end)


def _key_text(value: Any) -> str:
    if value is None:
        return NO_API_KEY
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _sums() -> list[Any]:
    return [
        func.count(),
        func.coalesce(func.sum(_R.input_tokens), 0),
        func.coalesce(func.sum(_R.output_tokens), 0),
        func.coalesce(func.sum(_R.cached_tokens), 0),
        func.coalesce(func.sum(_R.reasoning_tokens), 0),
        func.coalesce(func.sum(_R.cost_micros), 0),
        func.count(_R.error_code),
        func.coalesce(func.sum(cast(_R.fallback, Integer)), 0),
    ]


def _percentile_columns() -> list[Any]:
    return [
        func.percentile_cont(fraction).within_group(column)
        for column in (_R.latency_ms, _R.ttft_ms)
        for _, fraction in _PERCENTILES
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


def _python_percentiles(latencies: list[int], ttfts: list[int]) -> list[float | None]:
    latencies.sort()
    ttfts.sort()
    return [percentile_cont(values, fraction) for values in (latencies, ttfts) for _, fraction in _PERCENTILES]


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
            postgres = session.get_bind().dialect.name == "postgresql"
            key = _group_key(group_by)
            cost = func.coalesce(func.sum(_R.cost_micros), 0)
            order = [key] if group_by is UsageGroupBy.DAY else [cost.desc(), key]
            extra = _percentile_columns() if postgres else []
            grouped = select(key, *_sums(), *extra).where(_in_range(days)).group_by(key).order_by(*order).limit(limit)
            overall = select(*_sums(), *extra).where(_in_range(days))
            rows = (await session.execute(grouped)).all()
            total_row = (await session.execute(overall)).one()
            items: list[tuple[Any, Sequence[Any], Sequence[Any]]]
            totals: tuple[Sequence[Any], Sequence[Any]]
            if postgres:
                items = [(row[0], row[1:9], row[9:13]) for row in rows]
                totals = (total_row[0:8], total_row[8:12])
            else:
                found = await self._sqlite_percentiles(session, days, key, {row[0] for row in rows})
                items = [(row[0], row[1:9], found.get(row[0], [None] * 4)) for row in rows]
                totals = (total_row[0:8], found.get(_TOTAL, [None] * 4))
            labels = await self._labels(session, group_by, [k for k, _, _ in items])
        stats = [_stats(_key_text(k), sums, pct, labels.get(k)) for k, sums, pct in items]
        return UsageAnalytics(days=days, group_by=group_by, items=stats, totals=_stats(_TOTAL, *totals))

    async def _sqlite_percentiles(
        self, session: AsyncSession, days: DayRange, key: Any, keys: set[Any]
    ) -> dict[Any, list[float | None]]:
        """Each listed group's percentiles and the whole range's (under ``_TOTAL``)."""
        latencies: defaultdict[Any, list[int]] = defaultdict(list)
        ttfts: defaultdict[Any, list[int]] = defaultdict(list)
        query = select(key, _R.latency_ms, _R.ttft_ms).where(
            _in_range(days), (_R.latency_ms.is_not(None)) | (_R.ttft_ms.is_not(None))
        )
        for k, latency, ttft in await session.execute(query):
            for bucket in (_TOTAL, k) if k in keys else (_TOTAL,):
                if latency is not None:
                    latencies[bucket].append(latency)
                if ttft is not None:
                    ttfts[bucket].append(ttft)
        return {bucket: _python_percentiles(latencies[bucket], ttfts[bucket]) for bucket in (*keys, _TOTAL)}

    async def _labels(self, session: AsyncSession, group_by: UsageGroupBy, keys: list[Any]) -> dict[Any, str]:
        """Readable names: a user's email, an API key's name."""
        wanted = [k for k in keys if k is not None]
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
                select(_R.usage_date, UserModel.tier, func.count(func.distinct(_R.user_id)))
                .join(UserModel, UserModel.id == _R.user_id)
                .where(_in_range(days))
                .group_by(_R.usage_date, UserModel.tier)
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
                        _R.user_id.label("user_id"),
                        func.count().label("requests"),
                        func.sum(_R.cost_micros).label("cost"),
                    )
                    .where(_in_range(days))
                    .group_by(_R.user_id)
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
