"""The admin analytics and system status through the HTTP API (in this process), on SQLite and
PostgreSQL: figures against the usage records stored, percentiles against an independent
computation, the permission guard, bad input, and the status of a process without Redis."""

from __future__ import annotations

import asyncio
import json
import statistics
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from src.application.admin.get_usage_analytics import GetUsageAnalyticsQuery
from src.domain.admin.analytics import bucket_width, histogram_percentiles, latency_bucket
from src.domain.identity.model import Principal
from src.domain.llm.model import Usage
from src.domain.shared.errors import PermissionDenied
from src.domain.usage.model import UsageKind, UsageRecord, micros_to_dollars
from src.infrastructure.container import Container, build_container
from src.infrastructure.persistence.chat_models import UsageRecordModel
from src.infrastructure.persistence.migrator import Migrator
from src.interfaces.http.app import create_app
from tests.accounts import sign_up
from tests.conftest import SettingsFactory

PASSWORD = "violet-harbour-lantern-93"
ROUTES = ("usage", "users", "content", "top")


@dataclass
class Api:
    client: httpx.AsyncClient
    container: Container
    tokens: dict[str, str]
    ids: dict[str, uuid.UUID]

    async def get(self, path: str, who: str = "root", **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers={"Authorization": f"Bearer {self.tokens[who]}"})

    async def ok(self, path: str, **params: Any) -> dict[str, Any]:
        response = await self.get(path, **params)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def api(make_settings: SettingsFactory, database_url: str) -> AsyncIterator[Api]:
    settings = make_settings(
        DATABASE_URL=database_url, RATE_LIMIT_ENABLED="false", ADMIN_EMAIL="root@example.com", ADMIN_PASSWORD=PASSWORD
    )
    await asyncio.to_thread(Migrator(settings).upgrade)
    container = build_container(settings, role="api")
    await container.startup()
    transport = httpx.ASGITransport(app=create_app(settings, container=container))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test", timeout=10) as client:
            tokens = await sign_up(client, ("ada", "bob"), PASSWORD)
            signed_in = await client.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": "root@example.com", "password": PASSWORD},
            )
            tokens["root"] = signed_in.json()["access_token"]
            ids = {}
            for who, token in tokens.items():
                me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
                ids[who] = uuid.UUID(me.json()["id"])
            yield Api(client, container, tokens, ids)
    finally:
        await container.shutdown()


def _calls(ids: dict[str, uuid.UUID], now: datetime) -> list[UsageRecord]:
    """Forty-odd calls over five days: two users, three models on two providers, an API key, some
    errors and fallbacks, some without timing (recorded before the columns existed)."""
    key = uuid.UUID(int=7)
    models = ("openai/gpt-4.1-mini", "groq/llama-3.1-8b-instant", "offline/echo")
    calls = []
    for n in range(42):
        model = models[n % 3]
        who = "ada" if n % 4 else "bob"
        calls.append(
            UsageRecord(
                id=uuid.uuid4(),
                user_id=ids[who],
                kind=UsageKind.COMPLETION if n % 5 == 0 else UsageKind.REPLY,
                model=model,
                provider=model.partition("/")[0],
                usage=Usage(input_tokens=10 + n, output_tokens=3 * n, cached_tokens=n % 4),
                cost_micros=1_000 + 37 * n * n,  # uneven sums: "to the micro-dollar" is checked
                created_at=now - timedelta(days=n % 5, minutes=n),
                api_key_id=key if n % 5 == 0 else None,
                latency_ms=None if n % 11 == 0 else 100 + (n * 37) % 900,
                ttft_ms=None if n % 11 == 0 else 20 + (n * 13) % 200,
                error_code="provider_error" if n % 7 == 0 else None,
                fallback=n % 6 == 0,
            )
        )
    return calls


async def _store(api: Api, calls: list[UsageRecord]) -> None:
    async with api.container.uow() as tx:
        for record in calls:
            await tx.usage.record(record)


def _percentiles(values: list[int]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return float(values[0]), float(values[0])
    cuts = statistics.quantiles(sorted(values), n=100, method="inclusive")
    return cuts[49], cuts[94]


def _expected(calls: list[UsageRecord]) -> dict[str, Any]:
    latency = _percentiles([c.latency_ms for c in calls if c.latency_ms is not None])
    ttft = _percentiles([c.ttft_ms for c in calls if c.ttft_ms is not None])
    return {
        "requests": len(calls),
        "input_tokens": sum(c.usage.input_tokens for c in calls),
        "output_tokens": sum(c.usage.output_tokens for c in calls),
        "cached_tokens": sum(c.usage.cached_tokens for c in calls),
        "cost_micros": sum(c.cost_micros for c in calls),
        "cost_usd": micros_to_dollars(sum(c.cost_micros for c in calls)),
        "errors": sum(c.error_code is not None for c in calls),
        "fallbacks": sum(c.fallback for c in calls),
        "latency_p50_ms": latency[0],
        "latency_p95_ms": latency[1],
        "ttft_p50_ms": ttft[0],
        "ttft_p95_ms": ttft[1],
    }


_PERCENTILE_FIELDS = ("latency_p50_ms", "latency_p95_ms", "ttft_p50_ms", "ttft_p95_ms")


def _close(exact: float | None) -> Any:
    """A reported percentile: read from the rollup's latency buckets, within one bucket of the exact one."""
    if exact is None:
        return None
    return pytest.approx(exact, abs=bucket_width(latency_bucket(int(exact))))


def _expected_figures(calls: list[UsageRecord]) -> dict[str, Any]:
    return {k: _close(v) if k in _PERCENTILE_FIELDS else v for k, v in _expected(calls).items()}


def _figures(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in _expected([])}


async def test_usage_by_every_grouping_adds_up_to_the_stored_records(api: Api) -> None:
    now = datetime.now(UTC)
    calls = _calls(api.ids, now)
    await _store(api, calls)
    async with api.container.uow(read_only=True) as tx:
        stored_cost = await tx.session.scalar(select(func.sum(UsageRecordModel.cost_micros)))
    assert stored_cost == sum(c.cost_micros for c in calls)

    by_day = await api.ok("/api/v1/admin/analytics/usage", group_by="day")
    assert by_day["to"] == now.date().isoformat()
    assert _figures(by_day["totals"]) == _expected_figures(calls)
    assert by_day["totals"]["cost_micros"] == stored_cost
    days = [i["key"] for i in by_day["items"]]
    assert days == sorted({c.day.isoformat() for c in calls})  # oldest first
    for item in by_day["items"]:
        assert _figures(item) == _expected_figures([c for c in calls if c.day.isoformat() == item["key"]]), item["key"]

    by_model = await api.ok("/api/v1/admin/analytics/usage", group_by="model")
    costs = [i["cost_micros"] for i in by_model["items"]]
    assert costs == sorted(costs, reverse=True)  # highest cost first
    for item in by_model["items"]:
        assert _figures(item) == _expected_figures([c for c in calls if c.model == item["key"]]), item["key"]
    by_provider = await api.ok("/api/v1/admin/analytics/usage", group_by="provider")
    assert {i["key"] for i in by_provider["items"]} == {"openai", "groq", "offline"}
    assert sum(i["fallbacks"] for i in by_provider["items"]) == by_provider["totals"]["fallbacks"]
    for item in by_provider["items"]:
        assert _figures(item) == _expected_figures([c for c in calls if c.provider == item["key"]]), item["key"]

    by_user = await api.ok("/api/v1/admin/analytics/usage", group_by="user", limit=1)
    (top,) = by_user["items"]  # only the biggest spender listed ...
    assert (top["key"], top["label"]) == (str(api.ids["ada"]), "ada@example.com")
    assert _figures(top) == _expected_figures([c for c in calls if c.user_id == api.ids["ada"]])
    assert _figures(by_user["totals"]) == _expected_figures(calls)  # ... but the totals are everyone's

    by_key = await api.ok("/api/v1/admin/analytics/usage", group_by="api_key")
    assert {i["key"] for i in by_key["items"]} == {str(uuid.UUID(int=7)), "no_api_key"}
    for item in by_key["items"]:  # the calls without a key: a group of the coarse rollup's rows
        keyed = [c for c in calls if (c.api_key_id is not None) == (item["key"] != "no_api_key")]
        assert _figures(item) == _expected_figures(keyed), item["key"]

    # A range leaving out the oldest days leaves out their calls.
    start = (now - timedelta(days=1)).date()
    recent = await api.ok("/api/v1/admin/analytics/usage", **{"from": start.isoformat()})
    assert _figures(recent["totals"]) == _expected_figures([c for c in calls if c.day >= start])


async def test_sign_ups_active_users_articles_and_top_spenders(api: Api) -> None:
    now = datetime.now(UTC)
    today = now.date().isoformat()
    # The calls end at 00:30 today, so some (n minutes before their day's 00:30) fall on the day
    # before: bob has none on the oldest day, and that day has no row for his tier.
    calls = _calls(api.ids, datetime.combine(now.date(), time(0, 30), tzinfo=UTC))
    await _store(api, calls)
    await api.client.patch(
        f"/api/v1/admin/users/{api.ids['bob']}",
        json={"tier": "pro"},
        headers={"Authorization": f"Bearer {api.tokens['root']}"},
    )

    users = await api.ok("/api/v1/admin/analytics/users")
    rows = {(r["day"], r["tier"]): r for r in users["items"]}
    # root (the bootstrap admin) and ada are free, bob is pro now: he counts there.
    assert rows[(today, "free")]["signups"] == 2
    assert rows[(today, "pro")]["signups"] == 1
    for day in {c.day for c in calls}:
        for tier, who in (("free", {"ada"}), ("pro", {"bob"})):
            active = {n for n in who if any(c.day == day and c.user_id == api.ids[n] for c in calls)}
            if active:
                assert rows[(day.isoformat(), tier)]["active_users"] == len(active)
            else:  # one row per day and tier with any activity
                assert (day.isoformat(), tier) not in rows
    assert len({c.day for c in calls}) == 6  # five days back from 00:30, and the day before

    articles = [
        ("One", ["python", "async"], "published"),
        ("Two", ["python"], "draft"),
        ("Three", ["python", "sql"], "published"),
    ]
    for title, tags, status in articles:
        created = await api.client.post(
            "/api/v1/articles",
            json={"title": title, "body": "text", "tags": tags, "status": status},
            headers={"Authorization": f"Bearer {api.tokens['ada']}"},
        )
        assert created.status_code == 201, created.text
    content = await api.ok("/api/v1/admin/analytics/content")
    assert content["items"] == [
        {"day": today, "status": "draft", "articles": 1},
        {"day": today, "status": "published", "articles": 2},
    ]
    assert content["top_tags"] == [
        {"tag": "python", "articles": 3},
        {"tag": "async", "articles": 1},
        {"tag": "sql", "articles": 1},
    ]

    month = [c for c in calls if c.created_at.astimezone(UTC).month == now.month]
    for by, measure in (("cost", lambda cs: sum(c.cost_micros for c in cs)), ("requests", len)):
        top = await api.ok("/api/v1/admin/analytics/top", by=by, period="month")
        expected = sorted(
            ((measure([c for c in month if c.user_id == api.ids[n]]), n) for n in ("ada", "bob")), reverse=True
        )
        assert [(i[by if by == "requests" else "cost_micros"], i["email"]) for i in top["items"]] == [
            (value, f"{name}@example.com") for value, name in expected
        ]
    today_only = await api.ok("/api/v1/admin/analytics/top", period="day", limit=1)
    assert len(today_only["items"]) == 1
    assert today_only["from"] == today_only["to"] == today


async def test_only_holders_of_usage_read_all_get_analytics_and_bad_queries_say_why(api: Api) -> None:
    for route in ROUTES:
        refused = await api.get(f"/api/v1/admin/analytics/{route}", who="ada")
        assert refused.status_code == 403, route
    assert (await api.get("/api/v1/admin/system", who="ada")).status_code == 403
    # The use case checks the permission too (the CLI and any other front door).
    member = Principal(user_id=api.ids["ada"], email="ada@example.com", role="member", tier="free")  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        await api.container.admin.usage_analytics(member, GetUsageAnalyticsQuery())

    for params in ({"group_by": "role"}, {"from": "2026-02-01", "to": "2026-01-01"}, {"from": "2020-01-01"}):
        bad = await api.get("/api/v1/admin/analytics/usage", **params)
        assert bad.status_code == 422, params
        assert bad.json()["code"] == "invalid_analytics_query"
    bad_top = await api.get("/api/v1/admin/analytics/top", period="year")
    assert (bad_top.status_code, bad_top.json()["code"]) == (422, "invalid_analytics_query")


async def test_the_system_status_of_a_process_without_redis(api: Api) -> None:
    status = await api.ok("/api/v1/admin/system")
    assert status["instances_shared"] is False
    (me,) = status["instances"]
    assert me["current"] is True
    assert me["role"] == "api"
    assert me["uptime_seconds"] >= 0
    assert status["database"]["status"] == "up"
    assert status["database"]["latency_ms"] >= 0
    assert status["redis"] == {"status": "not_configured", "latency_ms": None, "error": None}
    assert status["jobs"]["queue_depth"] == {"parley": 0}
    assert status["jobs"]["failed_jobs"] == 0
    assert status["jobs"]["outbox_backlog"] >= 0
    assert status["streaming_replies"] == 0
    assert status["open_websockets"] == 0
    # The requests made so far in this test (sign-ups, sign-ins) were answered without server errors.
    assert status["recent_requests"] >= 1
    assert status["recent_error_rate"] == 0.0


@pytest.mark.postgres
@pytest.mark.redis
async def test_the_system_status_lists_every_instance_sharing_redis(
    make_settings: SettingsFactory, postgres_url: str, redis_url: str
) -> None:
    settings = make_settings(
        DATABASE_URL=postgres_url,
        REDIS_URL=redis_url,
        RATE_LIMIT_ENABLED="false",
        ADMIN_EMAIL="root@example.com",
        ADMIN_PASSWORD=PASSWORD,
        INSTANCE_HEARTBEAT_SECONDS="1",
    )
    await asyncio.to_thread(Migrator(settings).upgrade)
    api_container = build_container(settings, role="api")
    worker_container = build_container(settings, role="worker")
    await api_container.startup()
    await worker_container.startup()
    transport = httpx.ASGITransport(app=create_app(settings, container=api_container))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test", timeout=10) as client:
            signed_in = await client.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": "root@example.com", "password": PASSWORD},
            )
            headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
            async with asyncio.timeout(10):
                while True:
                    status = (await client.get("/api/v1/admin/system", headers=headers)).json()
                    if len(status["instances"]) == 2:
                        break
                    await asyncio.sleep(0.1)
    finally:
        await worker_container.shutdown()
        await api_container.shutdown()
    assert status["instances_shared"] is True
    assert [(i["role"], i["current"]) for i in status["instances"]] == [("api", True), ("worker", False)]
    assert status["redis"]["status"] == "up"
    assert status["redis"]["latency_ms"] >= 0
    assert set(status["jobs"]["queue_depth"]) == {"parley"}
    assert status["jobs"]["failed_jobs"] == 0
    assert status["breakers"]["redis"] == "closed"


async def test_the_migration_rolls_up_the_calls_recorded_before_it(settings: Any) -> None:
    """Usage recorded before the rollup existed is in the analytics after the upgrade, to the micro-dollar."""
    from sqlalchemy import text

    migrator = Migrator(settings)
    await asyncio.to_thread(migrator.upgrade, "a7c3e9f1b2d4")
    container = build_container(settings, role="cli")
    engine = container.database.get_engine()
    user_id, key_id, day = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC).date()
    postgres = engine.dialect.name == "postgresql"

    def guid(value: uuid.UUID) -> Any:
        return str(value) if postgres else value.bytes

    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO user_account (id, email, display_name, password_hash, role, tier, is_active, "
                    "token_version, created_at, updated_at) VALUES (:id, 'old@example.com', 'Old', 'x', 'member', "
                    "'free', true, 0, :now, :now)"
                ),
                {"id": guid(user_id), "now": datetime.now(UTC)},
            )
            for n, api_key in enumerate((None, None, key_id)):
                await connection.execute(
                    text(
                        "INSERT INTO usage_record (id, user_id, api_key_id, kind, provider, model, input_tokens, "
                        "output_tokens, cached_tokens, reasoning_tokens, estimated, cost_micros, usage_date, "
                        "created_at, updated_at) VALUES (:id, :user, :key, 'reply', 'openai', 'openai/gpt-4.1', "
                        ":n, 1, 0, 0, false, :cost, :day, :now, :now)"
                    ),
                    {
                        "id": guid(uuid.uuid4()),
                        "user": guid(user_id),
                        "key": None if api_key is None else guid(api_key),
                        "n": n,
                        "cost": 1_001 + n,
                        "day": day,
                        "now": datetime.now(UTC),
                    },
                )
    finally:
        await engine.dispose()
    await asyncio.to_thread(migrator.upgrade)
    container = build_container(settings, role="cli")
    try:
        by_key = await container.admin.usage_analytics(Principal.system(), GetUsageAnalyticsQuery(group_by="api_key"))
    finally:
        await container.database.get_engine().dispose()
    assert {i.key: (i.requests, i.cost_micros) for i in by_key.items} == {
        "no_api_key": (2, 1_001 + 1_002),
        str(key_id): (1, 1_003),
    }
    assert (by_key.totals.cost_micros, by_key.totals.input_tokens, by_key.totals.latency_p50_ms) == (3_006, 3, None)


async def test_the_coarse_rollup_migration_keeps_the_percentiles_of_the_days_rolled_up(settings: Any) -> None:
    """Histograms in usage_daily before usage_daily_model existed are merged into it by the upgrade: the
    percentiles of all calls, of a model and of the calls without a key are theirs afterwards."""
    from sqlalchemy import text

    migrator = Migrator(settings)
    await asyncio.to_thread(migrator.upgrade, "c4d8a2f6b931")
    container = build_container(settings, role="cli")
    engine = container.database.get_engine()
    users, key_id, day = (uuid.uuid4(), uuid.uuid4()), uuid.uuid4(), datetime.now(UTC).date()
    postgres = engine.dialect.name == "postgresql"

    def guid(value: uuid.UUID) -> Any:
        return str(value) if postgres else value.bytes

    # (user, model, key, latency histogram, ttft histogram)
    rows = [
        (0, "openai/gpt-4.1", None, {"100": 3, "400": 1}, {"20": 4}),
        (1, "openai/gpt-4.1", None, {"100": 1, "2000": 2}, {"40": 3}),
        (1, "openai/gpt-4.1", key_id, {"900": 5}, {"60": 5}),
        (0, "groq/llama-3.1-8b-instant", None, {"50": 2}, {}),
    ]
    try:
        async with engine.begin() as connection:
            for n, user_id in enumerate(users):
                await connection.execute(
                    text(
                        "INSERT INTO user_account (id, email, display_name, password_hash, role, tier, is_active, "
                        "token_version, created_at, updated_at) VALUES (:id, :email, 'Old', 'x', 'member', "
                        "'free', true, 0, :now, :now)"
                    ),
                    {"id": guid(user_id), "email": f"old{n}@example.com", "now": datetime.now(UTC)},
                )
            for user, model, api_key, latency, ttft in rows:
                await connection.execute(
                    text(
                        "INSERT INTO usage_daily (usage_date, user_id, provider, model, api_key_id, requests, "
                        "input_tokens, output_tokens, cached_tokens, reasoning_tokens, cost_micros, errors, fallbacks, "
                        "latency_histogram, ttft_histogram) VALUES (:day, :user, :provider, :model, :key, :n, 0, 0, "
                        "0, 0, :n, 0, 0, :latency, :ttft)"
                    ),
                    {
                        "day": day,
                        "user": guid(users[user]),
                        "provider": model.partition("/")[0],
                        "model": model,
                        "key": guid(api_key or uuid.UUID(int=0)),
                        "n": sum(latency.values()),
                        "latency": json.dumps(latency),
                        "ttft": json.dumps(ttft),
                    },
                )
    finally:
        await engine.dispose()
    await asyncio.to_thread(migrator.upgrade)

    def expected(chosen: list[tuple[Any, ...]]) -> list[float | None]:
        merged: list[dict[int, int]] = [{}, {}]
        for row in chosen:
            for into, histogram in zip(merged, row[3:], strict=True):
                for bucket, calls in histogram.items():
                    into[int(bucket)] = into.get(int(bucket), 0) + calls
        return [None if p is None else round(p, 1) for h in merged for p in histogram_percentiles(h, (0.5, 0.95))]

    def found(stats: Any) -> list[float | None]:
        return [stats.latency_p50_ms, stats.latency_p95_ms, stats.ttft_p50_ms, stats.ttft_p95_ms]

    container = build_container(settings, role="cli")
    try:
        by_model = await container.admin.usage_analytics(Principal.system(), GetUsageAnalyticsQuery(group_by="model"))
        by_key = await container.admin.usage_analytics(Principal.system(), GetUsageAnalyticsQuery(group_by="api_key"))
    finally:
        await container.database.get_engine().dispose()
    assert found(by_model.totals) == expected(rows)
    assert {i.key: found(i) for i in by_model.items} == {
        model: expected([r for r in rows if r[1] == model]) for model in ("openai/gpt-4.1", "groq/llama-3.1-8b-instant")
    }
    assert {i.key: found(i) for i in by_key.items} == {
        "no_api_key": expected([r for r in rows if r[2] is None]),
        str(key_id): expected([r for r in rows if r[2] is not None]),
    }
