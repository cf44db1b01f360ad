"""The tasks generating replies, owned by the process (the ``ReplyTasks`` port).

A reply outlives the request that started it. At shutdown, ``drain`` gives the replies under way
some time to end, then cancels the rest: each stores its text so far as interrupted before it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS, labelled

logger = get_logger("parley.chat")

T = TypeVar("T")
#: After cancelling, how long the cancelled replies get to store what they have.
FINALISE_SECONDS = 5.0


class InProcessReplyTasks:
    def __init__(self) -> None:
        self._tasks: dict[uuid.UUID, asyncio.Task[Any]] = {}

    def spawn(self, reply_id: uuid.UUID, work: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        task = asyncio.create_task(work, name=f"reply-{reply_id}")
        self._tasks[reply_id] = task
        METRICS.replies_in_flight.inc()
        task.add_done_callback(lambda done: self._finished(reply_id, done))
        return task

    def running(self) -> int:
        return len(self._tasks)

    def _finished(self, reply_id: uuid.UUID, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(reply_id, None)
        METRICS.replies_in_flight.dec()
        if task.cancelled():
            METRICS.replies_finished.labels("interrupted").inc()
            return
        error = task.exception()  # retrieved, so it is never reported as "never retrieved"
        if error is not None:
            logger.error("reply_task_failed", reply_id=str(reply_id), exc_info=error)
            METRICS.replies_finished.labels("failed").inc()
            return
        outcome = task.result()
        message = getattr(outcome, "message", None)
        reason = getattr(getattr(message, "finish_reason", None), "value", None) or "error"
        labelled(METRICS.replies_finished, reason).inc()

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the replies under way, then cancel the rest."""
        pending = list(self._tasks.values())
        if not pending:
            return
        logger.info("replies_draining", replies=len(pending), timeout_s=timeout)
        _, still = await asyncio.wait(pending, timeout=max(timeout, 0))
        if still:
            logger.warning("replies_interrupted", replies=len(still))
            for task in still:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait(still, timeout=FINALISE_SECONDS)
