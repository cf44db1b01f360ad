"""Redis going away mid-flight: limited routes keep answering, limits go per-process, and come back.

Each test runs its own ``redis-server`` on a spare port, so it can kill, freeze and restart it
without touching the Redis other tests use.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from src.infrastructure.rate_limit.redis_limiter import KEY_PREFIX
from src.infrastructure.settings import Settings
from tests.conftest import SettingsFactory
from tests.integration.rate_limit_apps import build_app, serving
from tests.logs import capture_logs

pytestmark = pytest.mark.redis

CLIENT_IP = "198.51.100.77"
LIMIT = 5
#: Generous next to REDIS_TIMEOUT (0.2 s): a request that takes this long is hanging on Redis.
HANG = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A throwaway redis-server: no persistence, so a restart comes back empty."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(f"redis-server did not start on port {self.port}") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stored_keys(self) -> list[bytes]:
        client = redis.Redis(port=self.port)
        try:
            return list(client.keys("*"))
        finally:
            client.close()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(free_port())
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.thaw()
        server.kill()


@pytest.fixture
def settings(make_settings: SettingsFactory, sqlite_url: str, own_redis: RedisServer) -> Settings:
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
    settings: Settings, own_redis: RedisServer
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


async def test_a_frozen_redis_does_not_hang_limited_requests(settings: Settings, own_redis: RedisServer) -> None:
    app = build_app(settings)
    async with serving(app) as client:
        http = client(ip=CLIENT_IP)
        assert await answers(http, 1) == [200]

        own_redis.freeze()  # accepts connections, never answers: the worst case for a client
        try:
            with capture_logs() as logs:
                assert await answers(http, LIMIT + 1) == [200] * LIMIT + [429]
        finally:
            own_redis.thaw()

    assert len([e for e in logs.events("circuit_opened") if e.get("breaker") == "redis"]) == 1
