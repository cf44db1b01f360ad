"""Stopping background tasks for sure.

``task.cancel()`` asks once. On Python 3.11 that request can be lost: ``asyncio.wait_for`` (which
redis-py uses for its socket and connect timeouts) returns the awaited result when the operation
finishes in the same loop turn as the cancellation, and the caller never sees ``CancelledError``
(CPython gh-86296, fixed in 3.12 by rebuilding ``wait_for`` on ``asyncio.timeout``). A loop that
swallowed its one cancellation went back to sleep, and whatever awaited it (a shutdown, a worker's job)
waited forever: seen as test runs hanging on an app's shutdown, one Redis heartbeat in 5-10.

``cancel_and_wait`` cancels again while the task runs on, after a grace long enough for the task's
own clean-up (a Redis call bounded by its timeout) to finish undisturbed.
"""

from __future__ import annotations

import asyncio
from typing import Any

#: How long a cancelled task may run its clean-up before it is cancelled again.
RECANCEL_SECONDS = 1.0


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None, recancel_after: float = RECANCEL_SECONDS) -> None:
    """Cancel ``tasks`` and wait until every one has ended, asking again each ``recancel_after``
    seconds while one runs on. Their results and errors are dropped (retrieved, so asyncio does not
    report them as never retrieved): callers stop loops whose rounds log their own failures."""
    pending = {task for task in tasks if task is not None and not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=recancel_after)
    for ended in tasks:
        if ended is not None and ended.done() and not ended.cancelled():
            ended.exception()


def raise_if_cancelled() -> None:
    """At the top of a background loop's round: end the loop when its task was asked to stop and the
    request was lost on the way (the race above). The task's ``cancelling()`` count stays raised after
    a lost request (``asyncio.timeout`` takes back its own), so a single ``cancel()`` (an event loop
    closing, pytest's included) still ends the loop within one round."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
