"""The event loop of ``parley chat``, in a thread of its own, and the main thread's way of waiting on it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: How often the main thread, waiting for the loop, wakes up to run the signal handlers.
SIGNAL_POLL_SECONDS = 0.05


class Portal:
    """An event loop running in a daemon thread; the main thread hands it coroutines and waits.

    Ctrl-C (SIGINT) and SIGTERM are the main thread's: the loop's thread, and every thread it starts
    (the database driver's, the default executor's), block them, so the kernel delivers them to the
    main thread, which waits in short slices and runs their handlers at once. (A signal delivered to
    another thread only sets a flag: a main thread blocked on a lock would see it once the whole
    reply was written, and Ctrl-C early in a reply would do nothing.)
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="parley-chat-loop", daemon=True)

    def _serve(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        self._loop.run_forever()

    def __enter__(self) -> Portal:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        # Whatever is left (nothing, after the container's shutdown) is cancelled, then the loop closes.
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        with contextlib.suppress(BaseException):
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        return wait_for_result(self.submit(work))


def wait_for_result(future: concurrent.futures.Future[T]) -> T:
    """``future.result()``, waiting in short slices so that a signal's handler runs at once."""
    while True:
        try:
            return future.result(timeout=SIGNAL_POLL_SECONDS)
        except concurrent.futures.TimeoutError:
            continue
