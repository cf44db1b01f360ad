"""Parley on a Redis watched by a real Sentinel (``REDIS_URL=redis+sentinel://...``), through a failover."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from src.infrastructure.cache.redis_cache import KEY_PREFIX
from src.infrastructure.container import build_container
from tests.conftest import SettingsFactory
from tests.service_processes import RedisWithSentinel

pytestmark = pytest.mark.redis


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[RedisWithSentinel]:
    servers = RedisWithSentinel(tmp_path / "sentinel")
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()


def master_port(servers: RedisWithSentinel) -> int:
    client = redis.Redis(port=servers.sentinel_port, socket_timeout=2)
    try:
        _, port = client.sentinel_get_master_addr_by_name(servers.service)  # type: ignore[misc]
        return int(port)
    finally:
        client.close()


def wait_until_replicated(servers: RedisWithSentinel) -> None:
    replica = redis.Redis(port=servers.replica_port, socket_timeout=2)
    try:
        deadline = time.monotonic() + 20
        while replica.info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, "the replica never caught up with the master"
            time.sleep(0.1)
    finally:
        replica.close()


async def test_the_container_finds_the_master_through_sentinel_and_follows_a_failover(
    make_settings: SettingsFactory, sqlite_url: str, sentinel: RedisWithSentinel
) -> None:
    settings = make_settings(DATABASE_URL=sqlite_url, REDIS_URL=sentinel.url(0), REDIS_TIMEOUT="2")
    container = build_container(settings, role="api")
    try:
        assert master_port(sentinel) == sentinel.master_port
        await container.cache.set("parley:test:before", {"n": 1}, 60)
        assert await container.cache.get("parley:test:before", dict) == {"n": 1}
        direct = redis.Redis(port=sentinel.master_port)
        assert direct.exists(KEY_PREFIX + "parley:test:before")
        direct.close()

        wait_until_replicated(sentinel)
        admin = redis.Redis(port=sentinel.sentinel_port, socket_timeout=5)
        admin.sentinel_failover(sentinel.service)
        admin.close()
        deadline = time.monotonic() + 30
        while master_port(sentinel) != sentinel.replica_port:
            assert time.monotonic() < deadline, "Sentinel did not promote the replica"
            await asyncio.sleep(0.2)

        # Once Sentinel has turned the old master into a replica, writes there are refused.
        demoted = redis.Redis(port=sentinel.master_port, socket_timeout=2)
        while demoted.info("replication")["role"] != "slave":
            assert time.monotonic() < deadline, "Sentinel did not demote the old master"
            await asyncio.sleep(0.2)
        demoted.close()

        # The same client now writes to the new master.
        promoted = redis.Redis(port=sentinel.replica_port)
        deadline = time.monotonic() + 30
        while not promoted.exists(KEY_PREFIX + "parley:test:after"):
            assert time.monotonic() < deadline, "the client never reached the new master"
            await container.cache.set("parley:test:after", {"n": 2}, 60)
            await asyncio.sleep(0.2)
        assert await container.cache.get("parley:test:after", dict) == {"n": 2}
        assert promoted.exists(KEY_PREFIX + "parley:test:before")  # replicated before the failover
        promoted.close()
        assert container.redis is not None
        assert await container.redis.ping()
    finally:
        await container.shutdown()
