"""Response cache: a cached GET against the same GET uncached, requests/s side by side.

The route counts and reads 20 job receipts through the unit of work (SQLite) and returns them as a
JSON list page. Measured on Redis (``BENCH_REDIS_URL``, default db 14 on loopback; skipped when
unreachable) and on the in-process memory cache, each against the uncached route on the same server.
Rate limiting is off: this measures the cache, not the limiter.
"""

from __future__ import annotations

import asyncio
import os

import redis

from bench.cached_app import FACTORY
from bench.support import app_server, load

SECONDS = 4.0
CONCURRENCY = 16
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def redis_reachable(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def measure(label: str, **env: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    with app_server(FACTORY, RATE_LIMIT_ENABLED="false", **env) as base:
        for name, route in (("uncached", "/bench/receipts"), (f"cached_{label}", "/bench/receipts/cached")):
            result = asyncio.run(load(base + route, seconds=SECONDS, concurrency=CONCURRENCY))
            for key, value in result.items():
                figures[f"{name}_{key}" if name.startswith("cached") else f"{label}_{name}_{key}"] = value
    figures[f"cached_{label}_vs_uncached_throughput_ratio"] = round(
        figures[f"cached_{label}_requests_per_s"] / figures[f"{label}_uncached_requests_per_s"], 2
    )
    return figures


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    if redis_reachable(REDIS_URL):
        figures.update(measure("redis", REDIS_URL=REDIS_URL))
        cleanup = redis.Redis.from_url(REDIS_URL)
        try:
            for key in cleanup.scan_iter(match="parley:cache:http:bench:*"):
                cleanup.unlink(key)
        finally:
            cleanup.close()
    figures.update(measure("memory"))
    return figures
