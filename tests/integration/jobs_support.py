"""Helpers for the background-job tests: a counting job, a polling wait, an in-process SAQ worker."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from src.infrastructure.container import Container, build_container
from src.infrastructure.queue.catalog import JobSpec
from src.infrastructure.settings import Settings
from src.interfaces.worker.main import build_worker


def counting_job(runs: Counter[int], name: str = "count") -> JobSpec:
    """A job that counts its runs by ``payload["n"]``: a second run of the same work shows up."""

    async def count(payload: Mapping[str, Any]) -> None:
        runs[int(payload["n"])] += 1

    return JobSpec(name, count, retries=0)


async def wait_until(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 30) -> None:
    """Poll ``condition`` (plain or async) until it holds; TimeoutError after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            outcome = condition()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if outcome:
                return
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def saq_worker(settings: Settings, extra_jobs: Sequence[JobSpec] = ()) -> AsyncIterator[Container]:
    """What `parley worker` runs, in this process, with ``extra_jobs`` in its catalogue."""
    container = build_container(settings, role="worker", extra_jobs=extra_jobs)
    await container.startup()
    worker = build_worker(container)
    task = asyncio.create_task(worker.start())
    try:
        yield container
    finally:
        await worker.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await container.shutdown()
