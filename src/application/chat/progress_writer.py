"""ProgressWriter: a reply's text so far in its row while it streams, and its conversation's lock kept.

Every ``flush_interval_seconds`` from the reply's start it writes the text so far (when it grew) to the
assistant message row, so a reader that comes later, or a restart, finds it; every third of the lease it
renews the conversation's reply lock, and tells the reply when another instance took the lock.

Most replies end before their first write is due: until then the writer is a timer, not a task (two
tasks per reply from its start, one waiting on the other, were a measurable part of a reply's CPU).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta

from src.application.chat.ports import ChargedChatTransaction
from src.application.chat.reply_job import ReplyJob, ReplyProgress
from src.application.chat.settings import ReplySettings
from src.application.shared.ports import Clock, UnitOfWorkFactory


class ProgressWriter:
    """The progress of one reply (``job`` and its ``state``): ``start`` when it begins, ``stop`` once
    ``state.ended`` is set (a write under way completes; its transaction ends cleanly). ``lock_lost``
    is called, once, when the conversation's lock is no longer the reply's."""

    __slots__ = ("_clock", "_due", "_job", "_lock_lost", "_settings", "_state", "_task", "_uow")

    def __init__(
        self,
        uow: UnitOfWorkFactory[ChargedChatTransaction],
        clock: Clock,
        settings: ReplySettings,
        job: ReplyJob,
        state: ReplyProgress,
        lock_lost: Callable[[], object],
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._settings = settings
        self._job = job
        self._state = state
        self._lock_lost = lock_lost
        self._due: asyncio.TimerHandle | None = None
        self._task: asyncio.Future[None] | None = None

    def start(self) -> None:
        """The first write one interval from now; a task only from then."""
        began = self._clock.monotonic()
        self._due = asyncio.get_running_loop().call_later(self._settings.flush_interval_seconds, self._launch, began)

    async def stop(self) -> None:
        if self._due is not None:
            self._due.cancel()
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await self._task

    def _launch(self, began: float) -> None:
        self._task = asyncio.ensure_future(self._run(began))

    async def _run(self, began: float) -> None:
        """A write now, then one every interval until the reply ends; the lease renewed every third of it
        from when the reply ``began`` (monotonic). A failed write is tried again at the next interval."""
        state = self._state
        interval = self._settings.flush_interval_seconds
        renew_every = max(interval, self._settings.lease_seconds / 3)
        last_renewal = began
        while not state.ended.is_set():
            with contextlib.suppress(Exception):  # the database away: tried again at the next interval
                if state.chars != state.stored_chars:
                    await self._save_text()
                if self._clock.monotonic() - last_renewal >= renew_every:
                    held = await self._renew()
                    last_renewal = self._clock.monotonic()
                    if not held:
                        state.lock_lost = True
                        self._lock_lost()
                        return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.ended.wait(), interval)

    async def _save_text(self) -> None:
        state, job = self._state, self._job
        chars = state.chars
        async with self._uow() as tx:
            await tx.messages.save_progress(
                job.message_id, content=state.text, last_event_id=state.next_event_id - 1, now=self._clock.now()
            )
        state.stored_chars = chars

    async def _renew(self) -> bool:
        job = self._job
        lease_until = self._clock.now() + timedelta(seconds=self._settings.lease_seconds)
        async with self._uow() as tx:
            return await tx.conversations.renew_reply(job.conversation_id, job.message_id, lease_until=lease_until)
