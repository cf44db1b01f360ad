"""`parley jobs failed` and `parley jobs retry` as real processes, against `parley worker` and real Redis.

The failing job is an ordinary one: `prune_expired` given a payload it rejects (`batch_size` 0 makes
the use case raise ValueError), so nothing test-only has to be registered in the worker process.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from saq.job import Status

from src.infrastructure.container import Container, build_container
from src.infrastructure.queue.schedule import PRUNE_EXPIRED
from src.infrastructure.settings import Settings
from tests.conftest import SettingsFactory
from tests.e2e.conftest import PARLEY, RunCli

pytestmark = pytest.mark.e2e

T = TypeVar("T")
KEY = f"{PRUNE_EXPIRED}:e2e-bad-payload"


def with_container(settings: Settings, work: Callable[[Container], Awaitable[T]]) -> T:
    async def run() -> T:
        container = build_container(settings, role="cli")
        await container.startup()
        try:
            return await work(container)
        finally:
            await container.shutdown()

    return asyncio.run(run())


def wait_for(check: Callable[[], bool], what: str, logs: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout} s; worker log:\n{logs.read_text()}")


@pytest.fixture
def worker(cli_env: dict[str, str], redis_url: str, run_cli: RunCli, tmp_path: Path) -> Iterator[Path]:
    """`parley worker` running against the test Redis; yields its log file."""
    assert run_cli("db", "upgrade").code == 0
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [PARLEY, "worker"],
            env={**cli_env, "REDIS_URL": redis_url, "SHUTDOWN_TIMEOUT": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        yield log_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.redis
def test_a_failed_job_is_listed_and_can_be_retried(
    worker: Path, run_cli: RunCli, make_settings: SettingsFactory, redis_url: str
) -> None:
    settings = make_settings(REDIS_URL=redis_url)
    env = {"REDIS_URL": redis_url}
    assert run_cli("jobs", "failed", env=env).stdout == "no failed jobs\n"

    key = with_container(
        settings, lambda c: c.task_queue.enqueue(PRUNE_EXPIRED, {"batch_size": 0}, dedupe_key="e2e-bad-payload")
    )
    assert key == KEY

    def failed_after(moment: int) -> bool:
        status, completed = with_container(settings, lambda c: _state(c, KEY))
        return status == Status.FAILED and completed > moment

    wait_for(lambda: failed_after(0), "the job did not fail after its retries", worker)
    _, first_failure = with_container(settings, lambda c: _state(c, KEY))

    listed = run_cli("jobs", "failed", env=env)
    assert listed.code == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["ID", "JOB", "ATTEMPTS", "FAILED", "AT", "(UTC)", "ERROR"]
    assert row.startswith(f"{KEY}  {PRUNE_EXPIRED} ")
    assert " 3  " in row  # the first try and the two retries prune_expired is allowed
    assert row.endswith("ValueError: batch_size and max_batches must be positive")

    retried = run_cli("jobs", "retry", KEY, env=env)
    assert retried.code == 0, retried.stderr
    assert retried.stdout == f"re-queued {KEY} ({PRUNE_EXPIRED})\n"
    # The worker runs it again with all its attempts; the payload is still bad, so it fails again.
    wait_for(lambda: failed_after(first_failure), "the retried job did not run and fail again", worker)
    again = run_cli("jobs", "failed", env=env)
    assert again.stdout.splitlines()[1].startswith(f"{KEY}  {PRUNE_EXPIRED} ")
    assert " 3  " in again.stdout.splitlines()[1]


async def _state(container: Container, key: str) -> tuple[Status | None, int]:
    """The job's status and when it last finished (epoch ms, 0 while it has not)."""
    assert container.saq_queue is not None
    job = await container.saq_queue.job(key)
    return (job.status, job.completed) if job is not None else (None, 0)


@pytest.mark.redis
def test_retrying_an_unknown_job_is_one_line_and_exit_1(run_cli: RunCli, redis_url: str) -> None:
    result = run_cli("jobs", "retry", "no-such-job", env={"REDIS_URL": redis_url})
    assert result.code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: no failed job with id 'no-such-job'; `parley jobs failed` lists them"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["jobs", "failed"], ["jobs", "retry", "some-id"]])
def test_failed_jobs_need_redis_and_say_so(run_cli: RunCli, command: list[str]) -> None:
    result = run_cli(*command)
    assert result.code == 2
    assert result.stderr.startswith("error: REDIS_URL is not set: without Redis the API runs jobs in its own process")
    assert len(result.stderr.strip().splitlines()) == 1
