"""`parley worker` as a real process against real Redis."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import pytest

from src.infrastructure.container import build_container
from src.infrastructure.queue.schedule import PRUNE_EXPIRED
from tests.conftest import SettingsFactory
from tests.e2e.conftest import PARLEY, PROCESS_START_SECONDS, RunCli

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def test_worker_runs_queued_jobs_and_stops_cleanly(
    run_cli: RunCli, cli_env: dict[str, str], make_settings: SettingsFactory, redis_url: str, tmp_path: Path
) -> None:
    env = {**cli_env, "REDIS_URL": redis_url}
    assert run_cli("db", "upgrade").code == 0
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([PARLEY, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        settings = make_settings(REDIS_URL=redis_url)

        async def enqueue_and_wait() -> bool:
            container = build_container(settings, role="api")
            await container.startup()
            try:
                await container.task_queue.enqueue(PRUNE_EXPIRED, {}, dedupe_key="from-e2e")
                deadline = time.monotonic() + PROCESS_START_SECONDS  # the worker starting included
                while time.monotonic() < deadline:
                    async with container.uow() as tx:
                        if await tx.job_receipts.exists(PRUNE_EXPIRED, "from-e2e"):
                            return True
                    await asyncio.sleep(0.1)
                return False
            finally:
                await container.shutdown()

        assert asyncio.run(enqueue_and_wait()), log_path.read_text()
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, log_path.read_text()
        assert time.monotonic() - started < 5
        logs = log_path.read_text()
        assert '"worker_started"' in logs
        assert '"worker_stopped"' in logs
        # Idle slots and upkeep loops end at once: nothing waits out the grace period.
        assert "did not finish within the shutdown grace period" not in logs, logs
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
