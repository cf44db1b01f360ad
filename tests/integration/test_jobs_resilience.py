"""Jobs are never lost: triggered while Redis is down, they wait in the outbox and run once it is back.

The test owns its redis-server (a spare port), so it can stop and restart it under a running API.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from src.infrastructure.container import Container, build_container
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.persistence.models import OutboxMessageModel
from src.interfaces.http.app import create_app
from tests.conftest import SettingsFactory
from tests.integration.jobs_support import counting_job, saq_worker, wait_until
from tests.redis_process import RedisProcess

pytestmark = pytest.mark.redis


async def attempted_rows(container: Container) -> int:
    async with container.uow() as tx:
        query = select(func.count()).where(OutboxMessageModel.attempts > 0)
        return int(await tx.session.scalar(query) or 0)


async def test_jobs_triggered_while_redis_is_down_run_exactly_once_after_it_is_back(
    make_settings: SettingsFactory, sqlite_url: str, tmp_path: Path
) -> None:
    redis_server = RedisProcess(tmp_path)
    await asyncio.to_thread(redis_server.start)
    try:
        settings = make_settings(
            DATABASE_URL=sqlite_url,
            REDIS_URL=redis_server.url,
            OUTBOX_RELAY_INTERVAL="0.1",
            REDIS_TIMEOUT="0.3",
            SHUTDOWN_TIMEOUT="1",
        )
        await asyncio.to_thread(Migrator(settings).upgrade)
        runs: Counter[int] = Counter()
        api = build_container(settings, role="api", extra_jobs=[counting_job(runs)])
        # Started here rather than by the app's lifespan, so that the test and the app share one
        # event loop (and the test may use the container's connections too).
        await api.startup()
        transport = httpx.ASGITransport(app=create_app(settings, container=api))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test") as client:
            healthy = (await client.get("/ready")).json()
            assert healthy["checks"]["jobs"]["details"] == {
                "runner": "saq",
                "queue_depth": 0,
                "outbox_backlog": 0,
                "outbox_oldest_age_s": 0.0,
            }

            await asyncio.to_thread(redis_server.kill)
            for n in range(20):  # what use cases do: the outbox row commits with their change
                async with api.uow() as tx:
                    await tx.outbox.add("count", {"n": n})
            await wait_until(lambda: _positive(attempted_rows(api)))  # the relay tried and Redis refused

            during = await client.get("/ready")
            assert during.status_code == 200  # Redis down and a backlog: degraded, still serving
            body = during.json()
            assert body["status"] == "degraded"
            assert body["checks"]["redis"]["status"] == "down"
            jobs = body["checks"]["jobs"]
            assert jobs["status"] == "up"
            assert jobs["details"]["outbox_backlog"] == 20
            assert jobs["details"]["outbox_oldest_age_s"] > 0
            assert jobs["details"]["queue_depth"] is None
            assert runs == Counter()

            await asyncio.to_thread(redis_server.start)  # same port: the clients reconnect
            async with saq_worker(settings, [counting_job(runs)]):

                async def all_ran() -> bool:
                    async with api.uow() as tx:
                        backlog = await tx.outbox.backlog()
                    return len(runs) == 20 and backlog.pending == 0 and await api.task_queue.depth() == 0

                await wait_until(all_ran)
                # No count job is left running or scheduled to run again (only the cron job waits).
                await wait_until(lambda: _no_count_job_pending(api))

            after = (await client.get("/ready")).json()
        await api.shutdown()
        assert runs == Counter(dict.fromkeys(range(20), 1))
        assert after["status"] == "ready"
        assert after["checks"]["jobs"]["details"]["outbox_backlog"] == 0
    finally:
        await asyncio.to_thread(redis_server.stop)


async def _positive(count: Awaitable[int]) -> bool:
    return await count > 0


async def _no_count_job_pending(container: Container) -> bool:
    assert container.saq_queue is not None
    info = await container.saq_queue.info(jobs=True, limit=1000)
    return not [job for job in info["jobs"] if job["function"] == "count"]
