"""Scale-out: chat replies per second through HAProxy with 1, 2 and 3 `parley serve` instances.

The setup of tests/e2e/test_scale_out.py (tests/cluster.py): the API instances and two `parley
worker`s behind HAProxy on one PostgreSQL (a throwaway database per run on ``BENCH_DATABASE_URL``)
and one Redis (``BENCH_SCALE_REDIS_URL``, default db 8 on loopback, emptied before each run). The
offline model answers at ``OFFLINE_TOKEN_DELAY_MS=5`` per word; ``USERS`` (40) people each stream
``TURNS`` (3) replies over SSE in one conversation and as many over a WebSocket in another, all at
once: 240 replies of 17 words per run. Replies per second are the replies over the wall time from
the first send to the last ``done``; the RSS of each API process is read from /proc at the end.
Every process runs on the same cores (the client too): on a machine of two cores, more instances
add processes, not cores, so the figures show the cost of the extra hops as much as the gain.

    uv run python -m bench scale_out      # BENCH_SCALE_INSTANCES=1,2,3 by default
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

import httpx
import redis

from bench.support import DATABASE_URL, admin
from tests.cluster import Cluster, LoadStats, Reply, sign_up_users, sse_reply, ws_replies

REDIS_URL = os.environ.get("BENCH_SCALE_REDIS_URL", "redis://127.0.0.1:6379/8")
INSTANCES = [int(n) for n in os.environ.get("BENCH_SCALE_INSTANCES", "1,2,3").split(",")]
USERS = int(os.environ.get("BENCH_SCALE_USERS", "40"))
TURNS = int(os.environ.get("BENCH_SCALE_TURNS", "3"))
WORDS = " ".join(f"w{i}" for i in range(14))
SERVER_ENV = {
    "OFFLINE_TOKEN_DELAY_MS": "5",
    "RATE_LIMIT_ENABLED": "false",
    "DB_POOL_TIMEOUT": "30",
    "REDIS_TIMEOUT": "2",
    "LOG_LEVEL": "WARNING",
}


def rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status").read().splitlines():  # noqa: SIM115 - a tiny proc file
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def load(cluster: Cluster) -> dict[str, Any]:
    stats = LoadStats()
    ws_url = cluster.base_url.replace("http://", "ws://") + "/api/v1/ws/chat"
    async with httpx.AsyncClient(base_url=cluster.base_url, timeout=120) as client:
        users = await sign_up_users(client, "bench", USERS)
        jobs = []
        for index, headers in enumerate(users):
            conversations = []
            for _ in range(2):
                created = await client.post("/api/v1/conversations", json={}, headers=headers)
                conversations.append(created.json()["id"])
            sse_turns = [Reply(conversations[0], f"u{index} sse {k} {WORDS}", "sse") for k in range(TURNS)]
            ws_turns = [Reply(conversations[1], f"u{index} ws {k} {WORDS}", "ws") for k in range(TURNS)]
            stats.replies += sse_turns + ws_turns

            async def in_order(headers: dict[str, str] = headers, turns: list[Reply] = sse_turns) -> None:
                for reply in turns:
                    await sse_reply(client, headers, reply, stats)

            jobs.append(in_order())
            jobs.append(ws_replies(ws_url, headers, ws_turns, stats))
        started = time.perf_counter()
        await asyncio.gather(*jobs)
        elapsed = time.perf_counter() - started
    assert stats.completed == len(stats.replies), "some replies did not complete"
    return {
        "replies": stats.completed,
        "seconds": round(elapsed, 2),
        "replies_per_s": round(stats.completed / elapsed, 1),
    }


def measure(instances: int) -> dict[str, Any]:
    name = f"parley_bench_scale_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    database_url = DATABASE_URL.rsplit("/", 1)[0] + f"/{name}"
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    cluster = Cluster(database_url, REDIS_URL, instances=instances, workers=2, env=SERVER_ENV)
    try:
        cluster.start()
        figures = asyncio.run(load(cluster))
        figures["api_rss_mib"] = [rss_mib(member.process.pid) for member in cluster.api]
        return figures
    finally:
        cluster.stop()
        client.flushdb()
        client.close()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {"cpus": os.cpu_count(), "replies_per_run": 2 * USERS * TURNS}
    for instances in INSTANCES:
        result = measure(instances)
        print(f"   {instances} instance(s): {result}")
        figures[f"instances_{instances}_replies_per_s"] = result["replies_per_s"]
        figures[f"instances_{instances}_seconds"] = result["seconds"]
        figures[f"instances_{instances}_api_rss_mib"] = result["api_rss_mib"]
    return figures
