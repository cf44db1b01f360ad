"""A running ``parley serve`` whose Redis restarts: no restart of Parley needed.

The server's Redis pool is filled with connections, then its private ``redis-server`` is killed and
started again, empty, on the same port. The very next readiness check sees Redis up, and the very
next limited requests are counted in Redis again (shared by every instance), exactly to the limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunCli
from tests.redis_process import RedisProcess

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

LIMIT = 8
#: More requests at once than the breaker tolerates failures: each leaves a pooled connection behind.
CONCURRENT = 16


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.stop()


def test_limits_and_readiness_are_back_on_redis_as_soon_as_it_answers(
    run_cli: RunCli, start_server: Any, own_redis: RedisProcess
) -> None:
    assert run_cli("db", "upgrade").code == 0
    server = start_server(env={"REDIS_URL": own_redis.url, "RATE_LIMIT_ANON_PER_MINUTE": str(LIMIT)})
    with httpx.Client(base_url=server.base_url, timeout=15) as client:
        # Fill the pool: many readiness checks at once, each holding a Redis connection.
        with ThreadPoolExecutor(CONCURRENT) as pool:
            warm = list(pool.map(lambda _: client.get("/ready").status_code, range(CONCURRENT * 2)))
        assert set(warm) == {200}

        own_redis.kill()
        own_redis.start()  # empty: the pooled sockets are all dead now

        ready = client.get("/ready").json()
        assert ready["checks"]["redis"]["status"] == "up", ready
        codes = [client.get("/api/v1/models").status_code for _ in range(LIMIT + 2)]
        assert codes == [200] * LIMIT + [429] * 2
        assert any(key.startswith(b"parley:rl:") for key in own_redis.stored_keys()), "decided by Redis"

    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    assert not [line for line in lines if line.get("event") == "circuit_opened" and line.get("breaker") == "redis"]
