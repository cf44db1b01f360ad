"""``parley jobs``: the background jobs Parley knows, running one now, and the failed ones (SAQ)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import click

from src.interfaces.cli.runtime import EXIT_USAGE, fail, one_line_errors, run_in_container, settings_or_exit


@click.group()
def jobs() -> None:
    """Background jobs."""


@jobs.command("list")
@one_line_errors
def jobs_list() -> None:
    """List the jobs Parley knows, with their schedules (cron, UTC) and what each does."""
    from src.infrastructure.queue.schedule import PARLEY_JOBS

    settings_or_exit()  # a bad setting is reported here as by every command
    for job in PARLEY_JOBS:
        schedule = job.cron or "when queued"
        limits = f"timeout {job.timeout_seconds:g}s, {job.retries} retries"
        click.echo(f"{job.name:<24} {schedule:<14} {limits:<24} {job.purpose}")


@jobs.command("run")
@click.argument("name")
@click.option("--payload", default="{}", help="JSON object passed to the job.")
@one_line_errors
def jobs_run(name: str, payload: str) -> None:
    """Run job NAME now, in this process, and print its result."""
    from src.infrastructure.container import build_container

    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        fail(f"--payload is not valid JSON ({exc.msg})", EXIT_USAGE)
    if not isinstance(data, dict):
        fail("--payload must be a JSON object", EXIT_USAGE)
    container = build_container(settings_or_exit(), role="cli")
    if name not in container.jobs:
        known = ", ".join(s.name for s in container.jobs)
        fail(f"unknown job {name!r}; known jobs: {known}", EXIT_USAGE)

    async def run() -> Any:
        await container.startup()
        try:
            return await container.jobs.run(name, data, None)
        finally:
            await container.shutdown()

    result = asyncio.run(run())
    click.echo(json.dumps({"job": name, "result": result}, default=str))


NO_REDIS_FOR_FAILED_JOBS = (
    "REDIS_URL is not set: without Redis the API runs jobs in its own process, logs each failure "
    "(event job_failed) and keeps no list this command could read"
)


def _with_failed_jobs(work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(failed_jobs)`` on the SAQ queue's record of failed jobs (Redis required); nothing
    else of the application is built."""
    settings = settings_or_exit()
    if not settings.redis.url:
        fail(NO_REDIS_FOR_FAILED_JOBS, EXIT_USAGE)

    async def run(container: Any) -> Any:
        return await work(await container.failed_jobs())

    return run_in_container(run, settings=settings)


@jobs.command("failed")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="How many to show.")
@one_line_errors
def jobs_failed(limit: int) -> None:
    """List jobs that failed after their last retry, most recent first. Needs REDIS_URL."""
    failed = _with_failed_jobs(lambda failed_jobs: failed_jobs.list(limit))
    if not failed:
        click.echo("no failed jobs")
        return
    width = max(len("ID"), *(len(job.key) for job in failed))
    click.echo(f"{'ID':<{width}}  {'JOB':<20}  {'ATTEMPTS':>8}  {'FAILED AT (UTC)':<19}  ERROR")
    for job in failed:
        when = job.failed_at.strftime("%Y-%m-%d %H:%M:%S") if job.failed_at else "-"
        click.echo(f"{job.key:<{width}}  {job.job_name:<20}  {job.attempts:>8}  {when:<19}  {job.error}")


@jobs.command("retry")
@click.argument("job_id")
@one_line_errors
def jobs_retry(job_id: str) -> None:
    """Queue the failed job JOB_ID (from `parley jobs failed`) again, with all its retries. Needs REDIS_URL."""
    retried = _with_failed_jobs(lambda failed_jobs: failed_jobs.retry(job_id))
    if retried is None:
        fail(f"no failed job with id {job_id!r}; `parley jobs failed` lists them")
    click.echo(f"re-queued {job_id} ({retried.job_name})")


COMMANDS = [jobs]
