"""Outbox relay: commit-to-job-start latency (woken relay) and relay throughput, SQLite with both runners.

Latency: one outbox row committed at a time, timed until its job handler starts, with the relay's
polling interval left at 1 s, so only the wake-up after commit can make it fast. Throughput: a
backlog of rows drained by relay rounds of OUTBOX_BATCH_SIZE (100) into the in-process runner and
into SAQ on Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/14, emptied before and after;
skipped when unreachable).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Mapping
from typing import Any

from src.infrastructure.container import Container, build_container
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.queue.catalog import JobSpec
from src.infrastructure.settings import Settings, load_settings
from src.interfaces.worker.main import build_worker

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
LATENCY_SAMPLES = 200
BACKLOG = 3000


def settings_for(var_dir: str, **extra: str) -> Settings:
    environ = {
        "APP_ENV": "production",
        "SECRET_KEY": "benchmark-secret-key-0123456789-abcdef",
        "PARLEY_VAR_DIR": var_dir,
        "LOG_LEVEL": "WARNING",
        "OUTBOX_RELAY_INTERVAL": "1",
        **extra,
    }
    return load_settings(environ, env_file=None)


class Marks:
    """A job that notes when each run started, by ``payload["i"]``."""

    def __init__(self) -> None:
        self.started: dict[int, float] = {}
        self.event = asyncio.Event()
        self.expected = -1

    def spec(self) -> JobSpec:
        async def mark(payload: Mapping[str, Any]) -> None:
            self.started[int(payload["i"])] = time.perf_counter()
            if int(payload["i"]) == self.expected:
                self.event.set()

        return JobSpec("bench_mark", mark, retries=0)


async def latency(container: Container, marks: Marks) -> dict[str, float]:
    samples: list[float] = []
    for i in range(LATENCY_SAMPLES):
        marks.expected = i
        marks.event.clear()
        committed_at = 0.0
        async with container.uow() as tx:
            await tx.outbox.add("bench_mark", {"i": i})
            committed_at = time.perf_counter()  # the commit itself follows; counted in the latency
        await asyncio.wait_for(marks.event.wait(), 10)
        samples.append(marks.started[i] - committed_at)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 2),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1] * 1000, 2),
    }


async def throughput(container: Container) -> float:
    assert container.outbox_relay is not None
    async with container.uow() as tx:
        for i in range(BACKLOG):
            await tx.outbox.add("bench_mark", {"i": 1_000_000 + i})
    started = time.perf_counter()
    while (await container.outbox_relay.run_once()).backlog.pending:
        pass
    return round(BACKLOG / (time.perf_counter() - started), 1)


async def embedded(var_dir: str) -> dict[str, float]:
    settings = settings_for(var_dir)
    await asyncio.to_thread(Migrator(settings).upgrade)
    marks = Marks()
    container = build_container(settings, role="api", extra_jobs=[marks.spec()])
    await container.startup()
    try:
        figures = {f"in_process_latency_{k}": v for k, v in (await latency(container, marks)).items()}
        assert container.outbox_relay is not None
        await container.outbox_relay.stop()  # measured rounds only, not the background loop's
        figures["in_process_relay_rows_per_s"] = await throughput(container)
        assert container.in_process_runner is not None
        await container.in_process_runner.join()
    finally:
        await container.shutdown()
    return figures


async def with_saq(var_dir: str) -> dict[str, float]:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception as exc:
        print(f"   (SAQ figures skipped: {REDIS_URL} unreachable: {exc})")
        return {}
    await client.flushdb()
    settings = settings_for(var_dir, REDIS_URL=REDIS_URL, SHUTDOWN_TIMEOUT="1")
    await asyncio.to_thread(Migrator(settings).upgrade)
    marks = Marks()  # the handlers of both containers note their starts here
    api = build_container(settings, role="api", extra_jobs=[marks.spec()])
    worker_container = build_container(settings, role="worker", extra_jobs=[marks.spec()])
    await api.startup()
    await worker_container.startup()  # relays too, as a `parley worker` does
    worker = build_worker(worker_container)
    worker_task = asyncio.create_task(worker.start())
    stopped = False
    try:
        figures = {f"saq_latency_{k}": v for k, v in (await latency(api, marks)).items()}
        # Throughput of the relay alone: no worker, no other relay draining the backlog.
        await worker.stop()
        await asyncio.gather(worker_task, return_exceptions=True)
        await worker_container.shutdown()
        stopped = True
        assert api.outbox_relay is not None
        await api.outbox_relay.stop()
        figures["saq_relay_rows_per_s"] = await throughput(api)
    finally:
        if not stopped:
            await worker.stop()
            await asyncio.gather(worker_task, return_exceptions=True)
            await worker_container.shutdown()
        await api.shutdown()
        await client.flushdb()
        await client.aclose()
    return figures


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        figures = asyncio.run(embedded(first))
        figures.update(asyncio.run(with_saq(second)))
    figures["latency_samples"] = LATENCY_SAMPLES
    figures["backlog_rows"] = BACKLOG
    return figures
