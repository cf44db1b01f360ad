"""Admin analytics at 1,000,000 usage records: each query's p50/p95 for a 30-day range on PostgreSQL.

A throwaway PostgreSQL database (``BENCH_DATABASE_URL``, default the test server on loopback) is
migrated, then filled in SQL: 1,000 users, and 1,000,000 usage records spread evenly over the 365
days ending today (about 82,000 in a 30-day range) across 3 providers, 6 models, an API key per user, with
latencies, errors and fallbacks (about 300 users active a day, each mostly on one model); ``usage_month``
and the ``usage_daily`` and ``usage_daily_model`` rollups are filled from them as the usage repository keeps them.
Each query then runs through the real adapter (``SqlAnalyticsReader``) ``ROUNDS`` times after a
warm-up. Goal: p50 < 50 ms for a 30-day range.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench.support import DATABASE_URL, admin
from src.domain.admin.analytics import DayRange, TopBy, UsageGroupBy
from src.infrastructure.clock import SystemClock
from src.infrastructure.persistence.analytics_queries import SqlAnalyticsReader
from src.infrastructure.persistence.database import build_database_config
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.settings import load_settings

ROWS = 1_000_000
USERS = 1_000
DAYS = 365
ROUNDS = 15
#: The year-long report is timed fewer times: it reads twelve times the rows.
YEAR_ROUNDS = 3
GOAL_MS = 50.0

_USERS_SQL = """
INSERT INTO user_account (id, email, display_name, password_hash, role, tier, is_active, token_version,
                          created_at, updated_at)
SELECT gen_random_uuid(), 'user' || n || '@example.com', 'User ' || n, 'x', 'member',
       CASE WHEN n % 5 = 0 THEN 'pro' ELSE 'free' END, true, 0,
       $1::timestamptz - (n % 365) * interval '1 day', $1::timestamptz
FROM generate_series(1, $2::int) AS n
"""

# Rows are inserted in time order, as a running system writes them. Each day about 300 of the 1,000
# users are active (a different 300 every day); a user mostly calls one model (one call in five another)
# and makes one call in four with their API key.
_RECORDS_SQL = """
WITH users AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM user_account),
     keys AS (SELECT k, gen_random_uuid() AS id FROM generate_series(0, $4::bigint - 1) AS k),
     calls AS (
       SELECT n, ($3::bigint - n) * $2::bigint / $3::bigint AS d,
              $1::timestamptz - ((($3::bigint - n) * 86400 * $2::bigint) / $3::bigint) * interval '1 second' AS at
       FROM generate_series(1, $3::bigint) AS n
     ),
     chosen AS (SELECT n, d, at, (d * 37 + n % 300) % $4::bigint AS u FROM calls)
INSERT INTO usage_record (id, user_id, conversation_id, message_id, api_key_id, kind, provider, model,
                          input_tokens, output_tokens, cached_tokens, reasoning_tokens, estimated, cost_micros,
                          usage_date, latency_ms, ttft_ms, error_code, fallback, created_at, updated_at)
SELECT gen_random_uuid(), users.id, NULL, NULL,
       CASE WHEN chosen.n % 4 = 0 THEN keys.id END,
       CASE WHEN chosen.n % 4 = 0 THEN 'completion' ELSE 'reply' END,
       split_part(m.model, '/', 1), m.model,
       50 + chosen.n % 900, 20 + chosen.n % 700, chosen.n % 64, 0, false, 10 + (chosen.n * 7919) % 20000,
       (chosen.at AT TIME ZONE 'UTC')::date,
       200 + (chosen.n * 7919) % 4000, 40 + (chosen.n * 104729) % 900,
       CASE WHEN chosen.n % 97 = 0 THEN 'provider_error' END, chosen.n % 41 = 0,
       chosen.at, chosen.at
FROM chosen
JOIN users ON users.k = chosen.u
JOIN keys ON keys.k = chosen.u
CROSS JOIN LATERAL (
  SELECT (ARRAY['openai/gpt-4.1-mini', 'groq/llama-3.1-8b-instant', 'gemini/gemini-2.5-flash',
                'openai/gpt-4.1', 'groq/llama-3.3-70b-versatile', 'gemini/gemini-2.5-pro'])
         [1 + (chosen.u + CASE WHEN chosen.n % 5 = 0 THEN 1 ELSE 0 END) % 6] AS model
) AS m
ORDER BY chosen.n
"""

_MONTHS_SQL = """
INSERT INTO usage_month (id, user_id, month, cost_micros, requests, created_at, updated_at)
SELECT gen_random_uuid(), user_id, date_trunc('month', usage_date)::date, sum(cost_micros), count(*), now(), now()
FROM usage_record GROUP BY user_id, date_trunc('month', usage_date)
"""

_BUCKET = """CASE WHEN {v} < 200 THEN {v} - {v} % 5 WHEN {v} < 1000 THEN {v} - {v} % 20
  WHEN {v} < 5000 THEN {v} - {v} % 100 WHEN {v} < 20000 THEN {v} - {v} % 500
  WHEN {v} < 120000 THEN {v} - {v} % 5000 ELSE {v} - {v} % 60000 END"""

# The rollup as the usage repository keeps it record by record (domain.admin.analytics.latency_bucket).
_DAILY_SQL = f"""
WITH rows AS (
  SELECT usage_date, user_id, provider, model,
         COALESCE(api_key_id, '00000000-0000-0000-0000-000000000000') AS api_key_id, input_tokens,
         output_tokens, cached_tokens, reasoning_tokens, cost_micros, error_code, fallback, latency_ms, ttft_ms
  FROM usage_record
), latency AS (
  SELECT usage_date, user_id, provider, model, api_key_id, json_object_agg(bucket, calls)::text AS h
  FROM (SELECT r.usage_date, r.user_id, r.provider, r.model, r.api_key_id,
               {_BUCKET.format(v="r.latency_ms")} AS bucket, count(*) AS calls
        FROM rows r GROUP BY 1, 2, 3, 4, 5, 6) b GROUP BY 1, 2, 3, 4, 5
), ttft AS (
  SELECT usage_date, user_id, provider, model, api_key_id, json_object_agg(bucket, calls)::text AS h
  FROM (SELECT r.usage_date, r.user_id, r.provider, r.model, r.api_key_id,
               {_BUCKET.format(v="r.ttft_ms")} AS bucket, count(*) AS calls
        FROM rows r GROUP BY 1, 2, 3, 4, 5, 6) b GROUP BY 1, 2, 3, 4, 5
), sums AS (
  SELECT r.usage_date, r.user_id, r.provider, r.model, r.api_key_id, count(*) AS requests,
         sum(r.input_tokens) AS i, sum(r.output_tokens) AS o, sum(r.cached_tokens) AS c,
         sum(r.reasoning_tokens) AS rt, sum(r.cost_micros) AS cost, count(r.error_code) AS errors,
         sum(r.fallback::int) AS fallbacks
  FROM rows r GROUP BY 1, 2, 3, 4, 5
)
INSERT INTO usage_daily (usage_date, user_id, provider, model, api_key_id, requests, input_tokens, output_tokens,
                         cached_tokens, reasoning_tokens, cost_micros, errors, fallbacks, latency_histogram,
                         ttft_histogram)
SELECT s.usage_date, s.user_id, s.provider, s.model, s.api_key_id, s.requests, s.i, s.o, s.c, s.rt, s.cost,
       s.errors, s.fallbacks, l.h, t.h
FROM sums s
JOIN latency l USING (usage_date, user_id, provider, model, api_key_id)
JOIN ttft t USING (usage_date, user_id, provider, model, api_key_id)
"""


# The coarse rollup (one row per day, model and with or without a key) as the usage repository keeps
# it, from the fine one.
_DAILY_MODEL_SQL = """
WITH fine AS (
  SELECT usage_date, provider, model, api_key_id <> '00000000-0000-0000-0000-000000000000' AS with_api_key,
         requests, latency_histogram, ttft_histogram
  FROM usage_daily
), latency AS (
  SELECT usage_date, provider, model, with_api_key, json_object_agg(bucket, calls)::text AS h
  FROM (SELECT f.usage_date, f.provider, f.model, f.with_api_key, b.key AS bucket, sum(b.value::bigint) AS calls
        FROM fine f, json_each_text(f.latency_histogram::json) b GROUP BY 1, 2, 3, 4, 5) x GROUP BY 1, 2, 3, 4
), ttft AS (
  SELECT usage_date, provider, model, with_api_key, json_object_agg(bucket, calls)::text AS h
  FROM (SELECT f.usage_date, f.provider, f.model, f.with_api_key, b.key AS bucket, sum(b.value::bigint) AS calls
        FROM fine f, json_each_text(f.ttft_histogram::json) b GROUP BY 1, 2, 3, 4, 5) x GROUP BY 1, 2, 3, 4
)
INSERT INTO usage_daily_model (usage_date, provider, model, with_api_key, requests, latency_histogram,
                               ttft_histogram)
SELECT s.usage_date, s.provider, s.model, s.with_api_key, s.requests, COALESCE(l.h, '{}'), COALESCE(t.h, '{}')
FROM (SELECT usage_date, provider, model, with_api_key, sum(requests) AS requests FROM fine GROUP BY 1, 2, 3, 4) s
LEFT JOIN latency l USING (usage_date, provider, model, with_api_key)
LEFT JOIN ttft t USING (usage_date, provider, model, with_api_key)
"""


async def fill(url: str, now: datetime) -> dict[str, float]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await connection.execute(_USERS_SQL, now, USERS)
        await connection.execute(_RECORDS_SQL, now, DAYS, ROWS, USERS)
        await connection.execute(_MONTHS_SQL)
        await connection.execute(_DAILY_SQL)
        await connection.execute(_DAILY_MODEL_SQL)
        await connection.execute("ANALYZE")
        filled = time.perf_counter() - started
        count = await connection.fetchval("SELECT count(*) FROM usage_record")
        rollup = await connection.fetchval(
            "SELECT count(*) FROM usage_daily WHERE usage_date > $1::date - 30", now.date()
        )
        coarse = await connection.fetchval(
            "SELECT count(*) FROM usage_daily_model WHERE usage_date > $1::date - 30", now.date()
        )
    finally:
        await connection.close()
    return {
        "usage_records": float(count),
        "rollup_rows_in_30d": float(rollup),
        "coarse_rollup_rows_in_30d": float(coarse),
        "fill_seconds": round(filled, 1),
    }


async def timed(call: Callable[[], Awaitable[Any]], rounds: int = ROUNDS) -> dict[str, float]:
    await call()  # warm-up: plans, connections, caches
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2), "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 2)}


async def measure(url: str) -> dict[str, float]:
    settings = load_settings({"DATABASE_URL": url, "SECRET_KEY": "b" * 40, "LOG_LEVEL": "WARNING"}, env_file=None)
    database = build_database_config(settings)
    reader = SqlAnalyticsReader(SqlAlchemyUnitOfWorkFactory.for_database(database, SystemClock()))
    today = datetime.now(UTC).date()
    month = DayRange(today - timedelta(days=29), today)
    year = DayRange(today - timedelta(days=364), today)
    this_month = DayRange(today.replace(day=1), today)
    figures: dict[str, float] = {}
    try:
        queries: dict[str, Callable[[], Awaitable[Any]]] = {
            **{
                f"usage_30d_by_{g.value}": (lambda g=g: reader.usage(month, g, limit=100))  # type: ignore[misc]
                for g in UsageGroupBy
            },
            "users_30d": lambda: reader.user_activity(month),
            "content_30d": lambda: reader.content(month, top_tags=10),
            "top_cost_this_month": lambda: reader.top_spenders(this_month, TopBy.COST, limit=10, whole_month=True),
            "usage_365d_by_day": lambda: reader.usage(year, UsageGroupBy.DAY, limit=366),
        }
        for name, call in queries.items():
            for key, value in (await timed(call, YEAR_ROUNDS if "365d" in name else ROUNDS)).items():
                figures[f"{name}_{key}"] = value
        rows_in_range = (await reader.usage(month, UsageGroupBy.DAY, limit=100)).totals.requests
        figures["usage_records_in_30d"] = float(rows_in_range)
    finally:
        await database.get_engine().dispose()
    thirty_day = [v for k, v in figures.items() if k.endswith("_p50_ms") and "30d" in k]
    figures["worst_30d_p50_ms"] = max(thirty_day)
    figures["goal_30d_p50_ms"] = GOAL_MS
    figures["goal_met"] = float(max(thirty_day) < GOAL_MS)
    return figures


def run() -> dict[str, float]:
    name = f"parley_bench_analytics_{uuid.uuid4().hex[:8]}"
    url = make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        Migrator(load_settings({"DATABASE_URL": url, "SECRET_KEY": "b" * 40}, env_file=None)).upgrade()
        figures = asyncio.run(fill(url, datetime.now(UTC)))
        figures.update(asyncio.run(measure(url)))
        return figures
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
