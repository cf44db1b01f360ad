"""Replies under way end as soon as the server is asked to stop, not after uvicorn's grace period.

uvicorn, told to stop (SIGTERM, Ctrl-C), waits up to ``timeout_graceful_shutdown`` for requests in
flight, then cancels them (a traceback: "Exception in ASGI application"), and only then runs the
lifespan shutdown that drains the replies. A client waiting for a whole reply (a JSON send) would
be cut off after the whole grace period. Instead, the signal also starts the drain at once: each
reply gets half of ``SHUTDOWN_TIMEOUT`` to finish, then is stored as interrupted, and its waiting
client is answered (503 ``interrupted``) well within the grace period.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from src.infrastructure.container import Container
from src.infrastructure.logging import get_logger

logger = get_logger("parley.http")

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def drain_replies_on_stop_signal(container: Container) -> Callable[[], None]:
    """Chain a handler onto the server's own for SIGTERM and SIGINT (call it in the lifespan, where
    the server has installed its handlers); returns what puts the previous handlers back. Does
    nothing outside the main thread or when no server handler is installed (an in-process test)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    if not callable(previous[signal.SIGTERM]):
        return lambda: None
    loop = asyncio.get_running_loop()
    draining: list[asyncio.Task[None]] = []

    def start_draining() -> None:
        if not draining:
            logger.info("shutdown_requested", replies=container.realtime.reply_tasks.running())
            draining.append(
                asyncio.ensure_future(container.realtime.reply_tasks.drain(container.settings.shutdown_timeout / 2))
            )

    def handler(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(start_draining)
        chained: Any = previous.get(signal.Signals(sig))
        if callable(chained):
            chained(sig, frame)

    for sig in SIGNALS:
        signal.signal(sig, handler)

    def restore() -> None:
        if threading.current_thread() is threading.main_thread():
            for sig, old in previous.items():
                signal.signal(sig, old)

    return restore
