"""The usage repository: usage records with their monthly and daily rollups (budgets:
``budget_repositories.py``).

A batch of usage records is written with its rollups as single-statement upserts in the caller's
transaction, each table's rows in key order, so concurrent writers never deadlock on shared rows. A
single record (every reply's charge) is, on PostgreSQL, one statement taking the same locks in the same
order (``_record_with_totals``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Boolean,
    Date,
    Insert,
    Select,
    Table,
    TextClause,
    TextualSelect,
    and_,
    bindparam,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from src.application.usage.ports import NO_API_KEY, UsageBucket, UsageGrouping
from src.domain.admin.analytics import latency_bucket
from src.domain.usage.model import UsageRecord, month_start
from src.infrastructure.persistence.chat_models import (
    UsageMonthModel,
    UsageRecordModel,
)
from src.infrastructure.persistence.driver import run, run_many
from src.infrastructure.persistence.orm import GUID, DateTimeUTC
from src.infrastructure.persistence.sql_support import flush_pending

_USAGE_RECORDS = cast(Table, UsageRecordModel.__table__)
_USAGE_MONTHS = cast(Table, UsageMonthModel.__table__)
_INSERT_USAGE_RECORD: Insert = insert(_USAGE_RECORDS)


def _add_to_usage_month(dialect: str) -> Insert:
    """One atomic add per record (an upsert): concurrent replies of one user never lose each other's cost."""
    build = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = build(_USAGE_MONTHS)
    return statement.on_conflict_do_update(
        index_elements=[_USAGE_MONTHS.c.user_id, _USAGE_MONTHS.c.month],
        set_={
            "cost_micros": _USAGE_MONTHS.c.cost_micros + statement.excluded.cost_micros,
            "requests": _USAGE_MONTHS.c.requests + 1,
            "updated_at": statement.excluded.updated_at,
        },
    )


#: A user's spending in a month (``p_user``, ``p_month``); budgets read it too (``budget_repositories.py``).
SPENT_IN_MONTH: Select[Any] = select(_USAGE_MONTHS.c.cost_micros).where(
    _USAGE_MONTHS.c.user_id == bindparam("p_user"), _USAGE_MONTHS.c.month == bindparam("p_month")
)
_ADD_TO_USAGE_MONTH = {dialect: _add_to_usage_month(dialect) for dialect in ("postgresql", "sqlite")}


def _bump_histogram(dialect: str, table: str, column: str, bucket: str) -> str:
    """``column = `` one more call in the bucket ``:bucket`` of the JSON histogram (unchanged when NULL)."""
    current = f"{table}.{column}"
    if dialect == "postgresql":
        key = f"CAST(:{bucket} AS text)"
        bumped = (
            f"jsonb_set({current}::jsonb, ARRAY[{key}], "
            f"to_jsonb(COALESCE(({current}::jsonb ->> {key})::bigint, 0) + 1))::text"
        )
    else:
        path = f"'$.\"' || :{bucket} || '\"'"
        bumped = f"json_set({current}, {path}, COALESCE(json_extract({current}, {path}), 0) + 1)"
    return f"{column} = CASE WHEN CAST(:{bucket} AS text) IS NULL THEN {current} ELSE {bumped} END"


#: What a record adds to the day's rollup row of its user, model and key (``usage_daily``).
_DAILY_SUMS = ("requests", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "cost_micros",
               "errors", "fallbacks")  # fmt: skip
_DAILY_COLUMNS = ("usage_date", "user_id", "provider", "model", "api_key_id", *_DAILY_SUMS, "latency_histogram",
                  "ttft_histogram")  # fmt: skip
_DAILY_MODEL_COLUMNS = ("usage_date", "provider", "model", "with_api_key", "requests", "latency_histogram",
                        "ttft_histogram")  # fmt: skip


def _histogram_bumps(dialect: str, table: str) -> str:
    """One more call in the bucket of the record's latency and of its time to first token (when timed)."""
    latency = _bump_histogram(dialect, table, "latency_histogram", "latency_bucket")
    return f"{latency}, {_bump_histogram(dialect, table, 'ttft_histogram', 'ttft_bucket')}"


def _on_usage_daily_conflict(dialect: str) -> str:
    """An upsert's conflict clause into ``usage_daily``: the sums added, the histograms bumped."""
    sums = ", ".join(f"{c} = usage_daily.{c} + excluded.{c}" for c in _DAILY_SUMS)
    return (
        "ON CONFLICT (usage_date, user_id, provider, model, api_key_id) DO UPDATE SET "
        f"{sums}, {_histogram_bumps(dialect, 'usage_daily')}"
    )


def _on_usage_daily_model_conflict(dialect: str) -> str:
    """An upsert's conflict clause into ``usage_daily_model``: one more call, the histograms bumped."""
    return (
        "ON CONFLICT (usage_date, provider, model, with_api_key) DO UPDATE SET "
        "requests = usage_daily_model.requests + excluded.requests, "
        f"{_histogram_bumps(dialect, 'usage_daily_model')}"
    )


def _add_to_usage_daily(dialect: str) -> TextClause:
    """One upsert per record into the day's rollup row of its user, model and key: the sums, and one
    more call in the bucket of its latency and of its time to first token (when timed)."""
    return text(
        f"INSERT INTO usage_daily ({', '.join(_DAILY_COLUMNS)}) VALUES ({', '.join(':' + c for c in _DAILY_COLUMNS)}) "
        + _on_usage_daily_conflict(dialect)
    ).bindparams(
        bindparam("user_id", type_=GUID()),
        bindparam("api_key_id", type_=GUID()),
        bindparam("usage_date", type_=Date()),
    )


_ADD_TO_USAGE_DAILY = {dialect: _add_to_usage_daily(dialect) for dialect in ("postgresql", "sqlite")}


def _add_to_usage_daily_model(dialect: str) -> TextClause:
    """One upsert per record into the day's row of its model, with or without a key (``usage_daily_model``):
    one more call, and one more in the bucket of its latency and of its time to first token (when timed)."""
    return text(
        f"INSERT INTO usage_daily_model ({', '.join(_DAILY_MODEL_COLUMNS)}) "
        f"VALUES ({', '.join(':' + c for c in _DAILY_MODEL_COLUMNS)}) {_on_usage_daily_model_conflict(dialect)}"
    ).bindparams(bindparam("usage_date", type_=Date()), bindparam("with_api_key", type_=Boolean()))


_ADD_TO_USAGE_DAILY_MODEL = {dialect: _add_to_usage_daily_model(dialect) for dialect in ("postgresql", "sqlite")}
#: The ``api_key_id`` of the rollup rows of calls made without a key.
NO_KEY_ID = uuid.UUID(int=0)

#: Every column of ``usage_record`` but the ORM's insert sentinel: a column added to the model joins the
#: one-statement charge by itself (and its value must come from ``_usage_record_row``).
_RECORD_COLUMNS = tuple(c.name for c in _USAGE_RECORDS.columns if c.name != "sa_orm_sentinel")
#: Each of those columns' PostgreSQL type, for a record selected rather than given as ``VALUES``.
_RECORD_TYPES = {c.name: c.type.compile(dialect=postgresql.dialect()) for c in _USAGE_RECORDS.columns}  # type: ignore[no-untyped-call]
#: The SQL type of each parameter of the one-statement charge that a ``SELECT`` list gives no column to
#: take its type from.
_PARAMETER_TYPES = {"usage_date": "date", "user_id": "uuid", "api_key_id": "uuid", "provider": "text",
                    "model": "text", "with_api_key": "boolean", "errors": "integer", "fallbacks": "integer",
                    "latency_histogram": "text", "ttft_histogram": "text",
                    **dict.fromkeys(("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens",
                                     "cost_micros"), "bigint")}  # fmt: skip


def _one_call(columns: Sequence[str]) -> str:
    """The ``SELECT`` list adding one call to a rollup row's ``columns`` (the key of the day's row is the
    record's key or ``NO_KEY_ID``: parameter ``daily_api_key_id``)."""
    return ", ".join(
        "1"
        if column == "requests"
        else f"CAST(:{'daily_api_key_id' if column == 'api_key_id' else column} AS {_PARAMETER_TYPES[column]})"
        for column in columns
    )


def charge_ctes(after: str | None = None) -> str:
    """The CTEs (``stored_record``, ``month_total``, ``day_total``, ``model_total``) storing one usage record
    with its three running-total upserts, on PostgreSQL; ``month_total`` gives the month's total after it.
    ``after``: a CTE of the same statement; the record is stored once for each of its rows (none: nothing
    is stored), once it has given them.

    Data-modifying CTEs run in an order PostgreSQL leaves unspecified, so each upsert selects its row from
    the ``RETURNING`` of the one before: a row cannot come out of a CTE before its write (and so its row
    lock) is done. The locks are therefore taken in ``record_many``'s order, table by table (the record,
    the month, the day, the model's day), and two replies, or a reply and a batch, finishing at once wait
    for each other instead of deadlocking. The rollups' conflict clauses are the batch upserts'."""
    columns = ", ".join(_RECORD_COLUMNS)
    if after is None:
        record = f"VALUES ({', '.join(':' + c for c in _RECORD_COLUMNS)})"
    else:  # a SELECT list gives no column to take a parameter's type from: each is cast to its column's
        record = f"SELECT {', '.join(f'CAST(:{c} AS {_RECORD_TYPES[c]})' for c in _RECORD_COLUMNS)} FROM {after}"
    return (
        f"stored_record AS (INSERT INTO usage_record ({columns}) {record} RETURNING 1 AS done), "
        "month_total AS (INSERT INTO usage_month (id, user_id, month, cost_micros, requests, created_at, "
        "updated_at) SELECT CAST(:month_id AS uuid), CAST(:user_id AS uuid), CAST(:month AS date), "
        "CAST(:cost_micros AS bigint), 1, CAST(:created_at AS timestamptz), CAST(:created_at AS timestamptz) "
        "FROM stored_record ON CONFLICT (user_id, month) DO UPDATE SET "
        "cost_micros = usage_month.cost_micros + excluded.cost_micros, requests = usage_month.requests + 1, "
        "updated_at = excluded.updated_at RETURNING usage_month.cost_micros), "
        f"day_total AS (INSERT INTO usage_daily ({', '.join(_DAILY_COLUMNS)}) SELECT {_one_call(_DAILY_COLUMNS)} "
        f"FROM month_total {_on_usage_daily_conflict('postgresql')} RETURNING 1 AS done), "
        f"model_total AS (INSERT INTO usage_daily_model ({', '.join(_DAILY_MODEL_COLUMNS)}) "
        f"SELECT {_one_call(_DAILY_MODEL_COLUMNS)} FROM day_total {_on_usage_daily_model_conflict('postgresql')} "
        "RETURNING 1 AS done)"
    )


def charge_bindparams() -> tuple[BindParameter[Any], ...]:
    """The typed parameters of ``charge_ctes`` (their values: ``charge_parameters``)."""
    guids = ("id", "user_id", "conversation_id", "message_id", "api_key_id", "month_id", "daily_api_key_id")
    return (
        *(bindparam(name, type_=GUID()) for name in guids),
        *(bindparam(name, type_=Date()) for name in ("usage_date", "month")),
        *(bindparam(name, type_=Boolean()) for name in ("estimated", "fallback", "with_api_key")),
        *(bindparam(name, type_=DateTimeUTC(timezone=True)) for name in ("created_at", "updated_at")),
    )


def _record_with_totals() -> TextualSelect:
    """One usage record and its three running-total upserts as one PostgreSQL statement (one round trip
    instead of four, for the single record every reply charges), giving the month's total after it (a
    reply's budget-alert check needs it: one more round trip saved). Its locks: ``charge_ctes``."""
    return (
        text(f"WITH {charge_ctes()} SELECT (SELECT cost_micros FROM month_total) AS month_total")
        .bindparams(*charge_bindparams())
        .columns(month_total=BigInteger)
    )  # a statement that returns a row (the driver fetches it)


_RECORD_WITH_TOTALS = _record_with_totals()


_HISTOGRAM_PARAMS = ("latency_histogram", "ttft_histogram", "latency_bucket", "ttft_bucket")


def _usage_record_row(record: UsageRecord) -> dict[str, Any]:
    usage = record.usage
    return {
        "id": record.id,
        "user_id": record.user_id,
        "conversation_id": record.conversation_id,
        "message_id": record.message_id,
        "api_key_id": record.api_key_id,
        "kind": record.kind.value,
        "provider": record.provider,
        "model": record.model,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "estimated": usage.estimated,
        "cost_micros": record.cost_micros,
        "usage_date": record.day,
        "latency_ms": record.latency_ms,
        "ttft_ms": record.ttft_ms,
        "error_code": record.error_code,
        "fallback": record.fallback,
        "created_at": record.created_at,
        "updated_at": record.created_at,
    }


def _usage_daily_row(record: UsageRecord) -> dict[str, Any]:
    """The record as an addition to its ``usage_daily`` row: the sums, and the buckets of its timings."""
    usage = record.usage
    latency = None if record.latency_ms is None else latency_bucket(record.latency_ms)
    ttft = None if record.ttft_ms is None else latency_bucket(record.ttft_ms)
    return {
        "usage_date": record.day,
        "user_id": record.user_id,
        "provider": record.provider,
        "model": record.model,
        "api_key_id": record.api_key_id or NO_KEY_ID,
        "requests": 1,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "cost_micros": record.cost_micros,
        "errors": int(record.error_code is not None),
        "fallbacks": int(record.fallback),
        "latency_histogram": json.dumps({str(latency): 1} if latency is not None else {}),
        "ttft_histogram": json.dumps({str(ttft): 1} if ttft is not None else {}),
        "latency_bucket": None if latency is None else str(latency),
        "ttft_bucket": None if ttft is None else str(ttft),
    }


def charge_parameters(record: UsageRecord) -> dict[str, Any]:
    """The parameters of ``charge_ctes``: the record's row and what it adds to each running total."""
    daily = _usage_daily_row(record)
    return {
        **_usage_record_row(record),
        "month_id": uuid7(),
        "month": month_start(record.created_at).date(),
        "daily_api_key_id": daily["api_key_id"],
        "with_api_key": daily["api_key_id"] != NO_KEY_ID,
        **{name: daily[name] for name in ("errors", "fallbacks", *_HISTOGRAM_PARAMS)},
    }


class SqlUsageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, record: UsageRecord) -> None:
        await self.record_many([record])

    async def record_and_total(self, record: UsageRecord) -> int:
        if self._session.get_bind().dialect.name == "postgresql":
            await flush_pending(self._session)
            return await self._record_one(record)
        await self.record_many([record])
        return await self.spent_in_month(record.user_id, month_start(record.created_at))

    async def _record_one(self, record: UsageRecord) -> int:
        """``record`` with its running totals in one statement (PostgreSQL); the month's total after it."""
        rows = await run(self._session, _RECORD_WITH_TOTALS, charge_parameters(record))
        return int(rows.rows[0][0])  # the upserts always give their row back

    async def record_many(self, records: Sequence[UsageRecord]) -> None:
        """The records, then the running totals they add to, table by table and each table's rows in key
        order: every transaction takes these row locks in the same order (the day's row of a model is
        shared by all users' calls: a batch locking it before another's would otherwise deadlock)."""
        if not records:
            return
        await flush_pending(self._session)
        flavour = "postgresql" if self._session.get_bind().dialect.name == "postgresql" else "sqlite"
        if flavour == "postgresql" and len(records) == 1:
            await self._record_one(records[0])
            return
        await run_many(self._session, _INSERT_USAGE_RECORD, [_usage_record_row(record) for record in records])
        months = sorted(
            (
                {
                    "id": uuid7(),
                    "user_id": record.user_id,
                    "month": month_start(record.created_at).date(),
                    "cost_micros": record.cost_micros,
                    "requests": 1,
                    "created_at": record.created_at,
                    "updated_at": record.created_at,
                }
                for record in records
            ),
            key=lambda row: (row["user_id"], row["month"]),
        )
        await run_many(self._session, _ADD_TO_USAGE_MONTH[flavour], months)
        daily = sorted(
            (_usage_daily_row(record) for record in records),
            key=lambda row: (row["usage_date"], row["user_id"], row["provider"], row["model"], row["api_key_id"]),
        )
        await run_many(self._session, _ADD_TO_USAGE_DAILY[flavour], daily)
        per_model = sorted(
            (
                {
                    "usage_date": row["usage_date"],
                    "provider": row["provider"],
                    "model": row["model"],
                    "with_api_key": row["api_key_id"] != NO_KEY_ID,
                    "requests": 1,
                    **{k: row[k] for k in _HISTOGRAM_PARAMS},
                }
                for row in daily
            ),
            key=lambda row: (row["usage_date"], row["provider"], row["model"], row["with_api_key"]),
        )
        await run_many(self._session, _ADD_TO_USAGE_DAILY_MODEL[flavour], per_model)

    async def spent_in_month(self, user_id: uuid.UUID, month_start: datetime) -> int:
        await flush_pending(self._session)
        row = (await run(self._session, SPENT_IN_MONTH, {"p_user": user_id, "p_month": month_start.date()})).first()
        return int(row[0] or 0) if row is not None else 0

    async def summarize(
        self, user_id: uuid.UUID, *, start: date, end: date, group_by: UsageGrouping
    ) -> list[UsageBucket]:
        key: Any = {
            "day": UsageRecordModel.usage_date,
            "model": UsageRecordModel.model,
            "api_key": UsageRecordModel.api_key_id,
        }[group_by]
        cost = func.sum(UsageRecordModel.cost_micros)
        query = (
            select(
                key,
                func.count(),
                func.sum(UsageRecordModel.input_tokens),
                func.sum(UsageRecordModel.output_tokens),
                func.sum(UsageRecordModel.cached_tokens),
                func.sum(UsageRecordModel.reasoning_tokens),
                cost,
            )
            .where(
                and_(
                    UsageRecordModel.user_id == user_id,
                    UsageRecordModel.usage_date >= start,
                    UsageRecordModel.usage_date <= end,
                )
            )
            .group_by(key)
            .order_by(key if group_by == "day" else cost.desc(), key)
        )
        rows = await self._session.execute(query)
        return [
            UsageBucket(
                key=k.isoformat() if isinstance(k, date) else NO_API_KEY if k is None else str(k),
                requests=int(n),
                input_tokens=int(i or 0),
                output_tokens=int(o or 0),
                cached_tokens=int(c or 0),
                reasoning_tokens=int(r or 0),
                cost_micros=int(m or 0),
            )
            for k, n, i, o, c, r, m in rows
        ]
