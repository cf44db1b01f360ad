"""Redis going away mid-flight: limited routes keep answering, limits go per-process, and come back.

Each test runs its own ``redis-server`` on a spare port, so it can kill, freeze and restart it
without touching the Redis other tests use.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from src.infrastructure.rate_limit.redis_limiter import KEY_PREFIX
from src.infrastructure.settings import Settings
from tests.conftest import SettingsFactory
from tests.integration.rate_limit_apps import build_app, serving
from tests.logs import capture_logs
from tests.redis_process import RedisProcess

pytestmark = pytest.mark.redis

CLIENT_IP = "198.51.100.77"
LIMIT = 5
#: Generous next to REDIS_TIMEOUT (0.2 s): a request that takes this long is hanging on Redis.
HANG = 3.0


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(make_settings: SettingsFactory, sqlite_url: str, own_redis: RedisProcess) -> Settings:
    return make_settings(
        DATABASE_URL=sqlite_url,
        REDIS_URL=own_redis.url,
        RATE_LIMIT_ANON_PER_MINUTE=LIMIT,
        REDIS_TIMEOUT=0.2,
        REDIS_BREAKER_FAILURES=2,
        REDIS_BREAKER_RESET_SECONDS=0.3,
    )


async def answers(http: httpx.AsyncClient, count: int) -> list[int]:
    codes = []
    for _ in range(count):
        async with asyncio.timeout(HANG):  # a hang detector, not a timing assertion
            codes.append((await http.get("/probe/plain")).status_code)
    return codes


async def test_limits_survive_redis_dying_and_return_to_redis_when_it_is_back(
    settings: Settings, own_redis: RedisProcess
) -> None:
    app = build_app(settings)
    container = app.state.container
    key = f"{KEY_PREFIX}anonymous:ip:{CLIENT_IP}".encode()

    async with serving(app) as client:
        http = client(ip=CLIENT_IP)
        assert await answers(http, 2) == [200, 200]
        assert key in own_redis.stored_keys()  # decided by Redis

        own_redis.kill()
        with capture_logs() as logs:
            # The per-process limiter takes over from a fresh count: still limited, never a 500.
            assert await answers(http, LIMIT + 3) == [200] * LIMIT + [429] * 3
            # Once open, the breaker stays open without logging again per request.
            assert await answers(http, 5) == [429] * 5
        opened = [e for e in logs.events("circuit_opened") if e.get("breaker") == "redis"]
        assert len(opened) == 1
        assert container.redis_breaker.state != "closed"

        own_redis.start()  # same port, empty
        with capture_logs() as logs:
            deadline = time.monotonic() + 10
            while not logs.events("circuit_closed") and time.monotonic() < deadline:
                await answers(http, 1)  # the half-open probe finds Redis again
                await asyncio.sleep(0.05)
            assert logs.events("circuit_closed"), "the breaker did not close after Redis came back"
        assert container.redis_breaker.state == "closed"
        # Decided by Redis again: its count lives there, shared with every other instance.
        await answers(http, 1)
        assert key in own_redis.stored_keys()


async def test_a_frozen_redis_does_not_hang_limited_requests(settings: Settings, own_redis: RedisProcess) -> None:
    app = build_app(settings)
    async with serving(app) as client:
        http = client(ip=CLIENT_IP)
        assert await answers(http, 1) == [200]

        own_redis.pause()  # accepts connections, never answers: the worst case for a client
        try:
            with capture_logs() as logs:
                assert await answers(http, LIMIT + 1) == [200] * LIMIT + [429]
        finally:
            own_redis.resume()

    assert len([e for e in logs.events("circuit_opened") if e.get("breaker") == "redis"]) == 1
