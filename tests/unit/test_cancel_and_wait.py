"""Stopping a background task for sure, even when it loses a cancellation (Python 3.11's wait_for race)."""

from __future__ import annotations

import asyncio
import contextlib

from src.infrastructure.tasks import cancel_and_wait, raise_if_cancelled


async def _loop_that_swallows_one_cancellation(rounds: list[int]) -> None:
    swallowed = False
    while True:
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed = True  # as asyncio.wait_for does when its operation finishes in the same turn
        rounds.append(1)


async def test_a_task_that_swallowed_its_cancellation_is_cancelled_again() -> None:
    rounds: list[int] = []
    task = asyncio.create_task(_loop_that_swallows_one_cancellation(rounds))
    await asyncio.sleep(0.05)

    await asyncio.wait_for(cancel_and_wait(task, recancel_after=0.05), timeout=5)

    assert task.cancelled()


async def test_a_clean_up_shorter_than_the_grace_is_not_interrupted() -> None:
    cleaned: list[str] = []

    async def worker() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.05)  # e.g. leaving a Redis list
            cleaned.append("done")

    task = asyncio.create_task(worker())
    await asyncio.sleep(0)
    await cancel_and_wait(task, recancel_after=1.0)

    assert cleaned == ["done"]


async def test_finished_failed_and_missing_tasks_are_fine() -> None:
    async def fails() -> None:
        raise RuntimeError("a round failed")

    failed = asyncio.create_task(fails())
    with contextlib.suppress(RuntimeError):
        await asyncio.shield(failed)
    finished = asyncio.create_task(asyncio.sleep(0))
    await finished

    await cancel_and_wait(failed, finished, None)

    assert failed.done()
    assert finished.done()


async def test_a_loop_that_checks_ends_on_a_single_cancel_it_lost() -> None:
    """Regression: a CI run hung in pytest-asyncio's teardown, whose one cancel() of the tasks left
    over was lost in a Redis call: a loop must end on the next round all the same."""
    rounds: list[int] = []

    async def loop() -> None:
        while True:
            raise_if_cancelled()
            with contextlib.suppress(asyncio.CancelledError):  # lost, as 3.11's asyncio.wait_for loses it
                await asyncio.sleep(0.01)
            rounds.append(1)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.03)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done
    assert task.cancelled()


async def test_a_timeout_inside_the_loop_does_not_end_it() -> None:
    rounds: list[int] = []

    async def loop() -> None:
        while len(rounds) < 3:
            raise_if_cancelled()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.01):
                    await asyncio.sleep(1)
            rounds.append(1)

    await asyncio.wait_for(loop(), timeout=5)
    assert len(rounds) == 3
