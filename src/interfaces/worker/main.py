"""The SAQ worker front door: runs the job catalogue against Redis (``parley worker``)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from saq import CronJob, Worker
from saq.types import Context, PartialTimersDict

from src.infrastructure.container import Container, build_container
from src.infrastructure.logging import configure_logging, get_logger
from src.infrastructure.queue.catalog import JobCatalog, JobSpec
from src.infrastructure.queue.saq_failed_jobs import SaqJobObserver
from src.infrastructure.queue.saq_queue import SWEEP_SECONDS, job_heartbeat, saq_job_options
from src.infrastructure.settings import Settings
from src.infrastructure.tasks import cancel_and_wait

logger = get_logger("parley.worker")

SaqFunction = Callable[..., Coroutine[Any, Any, Any]]
#: How long an idle worker slot blocks waiting for a job before it looks again (and notices a stop).
DEQUEUE_WAIT_SECONDS = 1.0


class PromptWorker(Worker[Context]):
    """SAQ's worker, stopping as soon as its running jobs are done.

    SAQ's ``stop`` waits the whole grace period for every task it runs: its idle slots block in
    BLMOVE without a timeout, and its upkeep loops (sweep, schedule, abort, worker info) sleep up to a
    minute between rounds, so even an idle worker took ``SHUTDOWN_TIMEOUT`` (and logged that tasks did
    not finish) to stop. Here idle slots wait at most ``DEQUEUE_WAIT_SECONDS`` for a job (then the
    stopped worker starts no new wait), and the upkeep loops are cancelled at once (each round is
    idempotent); running jobs still get the grace period.
    """

    async def stop(self) -> None:
        self.event.set()
        for task in list(self.tasks):
            if task.get_name() != "process":  # an upkeep loop: nothing is lost by ending it now
                task.cancel()
        await super().stop()


def saq_function(catalog: JobCatalog, spec: JobSpec) -> SaqFunction:
    async def run(ctx: Context, *, payload: dict[str, Any] | None = None, dedupe_key: str | None = None) -> Any:
        job = ctx.get("job")
        beat = asyncio.create_task(job_heartbeat(job)) if job is not None and job.heartbeat else None
        try:
            return await catalog.run(spec.name, payload or {}, dedupe_key)
        finally:
            await cancel_and_wait(beat)

    # SAQ finds a job's function by its qualified name: give it the catalogue's name.
    run.__qualname__ = run.__name__ = spec.name
    return run


def build_worker(container: Container, *, concurrency: int | None = None) -> PromptWorker:
    if container.saq_queue is None or container.failed_jobs is None:
        raise RuntimeError("the SAQ worker needs REDIS_URL")
    # Metrics for every job, and failed jobs kept for `parley jobs failed` / `parley jobs retry`.
    observer = SaqJobObserver(container.failed_jobs)
    functions = {spec.name: saq_function(container.jobs, spec) for spec in container.jobs}
    cron_jobs = []
    for spec in container.jobs.scheduled:
        options = saq_job_options(spec)
        cron_jobs.append(
            CronJob(
                function=functions[spec.name],
                cron=spec.cron or "",
                timeout=options["timeout"],
                retries=options["retries"],
                heartbeat=options["heartbeat"],
                kwargs={"payload": {}},
            )
        )
    return PromptWorker(
        container.saq_queue,
        functions=list(functions.values()),
        cron_jobs=cron_jobs,
        concurrency=concurrency or container.settings.jobs.worker_concurrency,
        shutdown_grace_period_s=int(container.settings.shutdown_timeout),
        dequeue_timeout=DEQUEUE_WAIT_SECONDS,
        # Stuck jobs of a killed worker are found within a heartbeat plus this, not SAQ's 60 s.
        # (SAQ's other timers at their defaults: its PartialTimersDict type wants every key.)
        timers=PartialTimersDict(schedule=1, worker_info=10, sweep=SWEEP_SECONDS, abort=1),
        before_process=observer.before_process,
        after_process=observer.after_process,
    )


async def serve_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM), then finish running jobs and close."""
    container = build_container(settings, role="worker")
    await container.startup()
    worker = build_worker(container)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except RuntimeError:
            # The loop runs outside the main thread (embedded in another program): the host
            # owns the signals and stops us through `stop`.
            break
    logger.info("worker_started", jobs=sorted(s.name for s in container.jobs), concurrency=worker.concurrency)
    task = asyncio.create_task(worker.start())
    try:
        await asyncio.wait({task, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await worker.stop()
        await cancel_and_wait(task)
        await container.shutdown()
        logger.info("worker_stopped")


def run_worker(settings: Settings) -> None:
    configure_logging(settings)
    asyncio.run(serve_worker(settings))
