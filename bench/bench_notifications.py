"""Notifications: announcement fan-out to 100,000 users, inbox reads (10 vs 10,000), commit-to-frame latency.

Fan-out: one announcement to 100,000 active users on a throwaway PostgreSQL database, through the
handler the dispatch job runs (``FanOutAnnouncement``: batches of 1000, preferences read per batch,
one multi-row insert each, live push to each recipient). Inbox: ``GET /api/v1/notifications``'s use
case (a page of 20 and the unread count) for a user with 10 and one with 10,000 notifications, all
unread (the worst case for the count). Latency: a WebSocket client on one `parley serve` instance;
this process (a second instance: its own container, database pool and Redis pub/sub connection)
commits a notification and publishes it; the time from the commit to the `notification` frame.
Redis: BENCH_REDIS_URL (default redis://127.0.0.1:6379/14), emptied before and after.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import redis
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect

from bench.support import DATABASE_URL, admin, parley_server
from src.application.identity.register_user import RegisterUserCommand
from src.application.notifications.list_notifications import ListNotificationsQuery
from src.application.notifications.notify import NotificationDraft
from src.application.shared.ids import new_id
from src.domain.identity.model import Principal, Role, Tier, permissions_of
from src.domain.notifications.events import AnnouncementPublished
from src.domain.notifications.model import Category, Notification
from src.infrastructure.container import Container, build_container
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.persistence.models import UserModel
from src.infrastructure.settings import load_settings

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
FAN_OUT_USERS = int(os.environ.get("BENCH_FAN_OUT_USERS", "100000"))
INBOX_SAMPLES = 300
LATENCY_SAMPLES = 200
PASSWORD = "violet-harbour-lantern-93"


def _settings(database_url: str, **extra: str) -> Any:
    return load_settings(
        {
            "APP_ENV": "production",
            "SECRET_KEY": "benchmark-secret-key-0123456789-abcdef",
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            **extra,
        },
        env_file=None,
    )


def _principal(user_id: uuid.UUID) -> Principal:
    return Principal(user_id, "x@example.com", Role.CREATOR, Tier.FREE, permissions_of(Role.CREATOR))


async def seed_users(container: Container, count: int) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "id": new_id(now),
            "email": f"user{n}@example.com",
            "display_name": f"User {n}",
            "password_hash": "not-a-hash",
            "role": "creator",
            "tier": "free",
            "is_active": True,
            "token_version": 0,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]
    for start in range(0, count, 5000):
        async with container.uow() as tx:
            await tx.session.execute(insert(UserModel), rows[start : start + 5000])


async def fan_out(container: Container) -> dict[str, Any]:
    await seed_users(container, FAN_OUT_USERS)
    now = datetime.now(UTC)
    event = AnnouncementPublished(
        event_id=new_id(now),
        occurred_at=now,
        announcement_id=new_id(now),
        author_id=uuid.uuid4(),
        title="Maintenance tonight",
        body="Parley is down for ten minutes from 22:00 UTC.",
        audience="all",
    )
    started = time.perf_counter()
    result = await container.notifications.fan_out_announcement(event)
    elapsed = time.perf_counter() - started
    return {
        "fan_out_recipients": result.recipients,
        "fan_out_rows_stored": result.stored,
        "fan_out_total_s": round(elapsed, 2),
        "fan_out_rows_per_s": round(result.stored / elapsed),
    }


async def inbox(container: Container) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for size in (10, 10_000):
        user = await container.use_cases.identity.register_user(
            RegisterUserCommand(f"inbox{size}@example.com", PASSWORD, f"Inbox {size}")
        )
        base = datetime.now(UTC)
        for start in range(0, size, 2000):
            rows = [
                Notification(
                    id=new_id(base),
                    user_id=user.id,
                    category=Category.CONTENT,
                    type="bench",
                    title=f"n{n}",
                    body="A notification body of a typical length, a sentence or two.",
                    data={"n": n},
                    created_at=base,
                )
                for n in range(start, min(size, start + 2000))
            ]
            async with container.uow() as tx:
                await tx.notifications.add_many(rows)
        # What autovacuum does to a table that has settled: statistics, and the visibility map that
        # lets the unread count read the index alone.
        engine = container.database.get_engine()
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM ANALYZE notification")
        reader, query = _principal(user.id), ListNotificationsQuery(limit=20)
        for _ in range(20):
            await container.notifications.list_notifications(reader, query)
        timings = []
        for _ in range(INBOX_SAMPLES):
            started = time.perf_counter()
            page = await container.notifications.list_notifications(reader, query)
            timings.append((time.perf_counter() - started) * 1000)
        assert page.unread_count >= size
        figures[f"inbox_{size}_p50_ms"] = round(statistics.median(timings), 2)
        figures[f"inbox_{size}_p99_ms"] = round(statistics.quantiles(timings, n=100)[98], 2)
    # The floor on this machine at this moment: a read-only transaction with one trivial query.
    floor = []
    for _ in range(INBOX_SAMPLES):
        started = time.perf_counter()
        async with container.uow(read_only=True) as tx:
            await tx.session.execute(text("SELECT 1"))
        floor.append((time.perf_counter() - started) * 1000)
    figures["read_only_transaction_floor_p50_ms"] = round(statistics.median(floor), 2)
    figures["inbox_goal_p50_under_5_ms"] = figures["inbox_10000_p50_ms"] < 5
    figures["inbox_10000_over_10"] = round(figures["inbox_10000_p50_ms"] / figures["inbox_10_p50_ms"], 2)
    return figures


async def commit_to_frame(container: Container, base: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        email = "live@example.com"
        await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Live"})
        token = (
            await client.post(
                "/api/v1/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD}
            )
        ).json()["access_token"]
        user_id = uuid.UUID(
            (await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})).json()["id"]
        )
    url = base.replace("http://", "ws://") + "/api/v1/ws/chat"
    latencies: list[float] = []
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None) as socket:
        assert json.loads(await socket.recv())["type"] == "ready"
        await asyncio.sleep(0.5)  # the server's subscription to the user's channel is in place
        for n in range(LATENCY_SAMPLES):
            draft = NotificationDraft(user_id, Category.SYSTEM, "bench", f"live {n}", "body", f"bench-live-{n}")
            # Notify commits, then publishes: the commit is its first step, so timing from the call
            # start bounds commit-to-frame from above.
            started = time.perf_counter()
            await container.notifications.notify(draft)
            while True:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
                if frame["type"] == "notification" and frame["notification"]["title"] == f"live {n}":
                    break
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
    return {
        "commit_to_ws_frame_p50_ms": round(statistics.median(latencies), 2),
        "commit_to_ws_frame_p99_ms": round(statistics.quantiles(latencies, n=100)[98], 2),
        "commit_to_ws_frame_goal_p50_under_50_ms": statistics.median(latencies) < 50,
    }


async def _in_process(database_url: str, base: str | None) -> dict[str, Any]:
    settings = _settings(database_url, REDIS_URL=REDIS_URL)
    await asyncio.to_thread(Migrator(settings).upgrade)
    container = build_container(settings, role="cli")  # no job runner, no relay: only what is timed here
    await container.startup()
    assert container.pubsub is not None
    container.pubsub.start()
    figures: dict[str, Any] = {}
    try:
        if base is not None:
            figures.update(await commit_to_frame(container, base))
        figures.update(await inbox(container))
        figures.update(await fan_out(container))
    finally:
        await container.shutdown()
    return figures


def run() -> dict[str, Any]:
    name = f"parley_bench_notify_{uuid.uuid4().hex[:8]}"
    database_url = make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    cache = redis.Redis.from_url(REDIS_URL)
    cache.flushdb()
    try:
        with parley_server(DATABASE_URL=database_url, REDIS_URL=REDIS_URL, RATE_LIMIT_ENABLED="false") as base:
            return asyncio.run(_in_process(database_url, base))
    finally:
        cache.flushdb()
        cache.close()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
