"""Rolling deploys: what an API instance does between SIGTERM and its exit.

On SIGTERM (uvicorn's own handler is wrapped, so this works under ``parley serve`` and any
``--workers`` count):

1. The instance stops taking new work: ``/ready`` answers 503 (load balancers take it out), and
   every request that would start something (POST, PUT, PATCH, DELETE) is refused with a 503
   ``shutting_down`` problem and ``Retry-After``: nothing was done, so the client (or the load
   balancer) retries it on another instance. Reads, and reply streams already open, go on.
2. Every open WebSocket gets a ``reconnect`` frame and is closed with 1012 (service restart); the
   client reconnects (to another instance, through the load balancer) and ``resume``s its replies
   from the last event id it saw: their events are in Redis, readable from any instance.
3. Then uvicorn's handler runs: the listening socket closes, open responses (SSE streams) get
   ``SHUTDOWN_TIMEOUT`` to end, and the application shuts down. Replies still being generated get
   what is left of ``SHUTDOWN_TIMEOUT`` (counted from the SIGTERM) to finish; the rest are stopped
   and stored as interrupted, and a reply whose instance could not even do that is interrupted by
   the stale-reply recovery of another instance once its lease runs out.

A second SIGTERM while draining goes straight to uvicorn (which then stops at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.realtime.reply_tasks import InProcessReplyTasks

logger = get_logger("parley.drain")

CLOSE_SERVICE_RESTART = 1012
#: How long open sockets get to receive their ``reconnect`` frame and close before uvicorn closes them.
SOCKET_CLOSE_SECONDS = 2.0
#: What a refused request tells the client to wait before retrying (elsewhere).
RETRY_AFTER_SECONDS = 1
#: Methods that only read: still served while draining.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READY_PATH = "/ready"

SignalHandler = Callable[[int, FrameType | None], Any] | int | None


class Reconnectable(Protocol):
    def reconnect(self, reason: str) -> None: ...


class Drain:
    """The instance's draining state, its open sockets, and the SIGTERM hook."""

    def __init__(self, *, socket_close_seconds: float = SOCKET_CLOSE_SECONDS) -> None:
        self.draining = False
        self.started_at: float | None = None
        self._socket_close_seconds = socket_close_seconds
        self._sockets: set[Reconnectable] = set()
        self._previous: SignalHandler = None
        self._handler: Callable[[int, FrameType | None], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        #: Set when the last socket closed during the drain.
        self._all_closed: asyncio.Event | None = None

    # -- sockets ------------------------------------------------------------------------------------

    def track(self, socket: Reconnectable) -> bool:
        """Follow an open socket; ``False`` (and the socket is sent away at once) while draining."""
        if self.draining:
            socket.reconnect("server restarting: reconnect")
            return False
        if socket not in self._sockets:
            self._sockets.add(socket)
            METRICS.websockets_open.inc()
        return True

    def untrack(self, socket: Reconnectable) -> None:
        if socket in self._sockets:
            self._sockets.discard(socket)
            METRICS.websockets_open.dec()
        if not self._sockets and self._all_closed is not None:
            self._all_closed.set()

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    # -- the drain ----------------------------------------------------------------------------------

    async def begin(self) -> None:
        """Stop taking new work and send every open socket away; returns once they closed (or after
        ``socket_close_seconds``)."""
        if self.draining:
            return
        self.draining = True
        self.started_at = time.monotonic()
        logger.info("drain_started", sockets=len(self._sockets))
        for socket in list(self._sockets):
            socket.reconnect("server restarting: reconnect and resume your replies")
        if self._sockets:
            self._all_closed = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_closed.wait(), timeout=self._socket_close_seconds)
        logger.info("drain_sockets_closed", still_open=len(self._sockets))

    async def finish_replies(self, replies: InProcessReplyTasks, timeout: float) -> None:
        """Give the replies under way what is left of ``timeout`` since the drain began, then stop
        the rest (stored as interrupted)."""
        elapsed = 0.0 if self.started_at is None else time.monotonic() - self.started_at
        await replies.drain(max(timeout - elapsed, 0.0))

    # -- SIGTERM ------------------------------------------------------------------------------------

    def install(self) -> None:
        """Wrap the current SIGTERM handler (uvicorn's); only possible in the main thread."""
        if threading.current_thread() is not threading.main_thread() or self._handler is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._previous = signal.getsignal(signal.SIGTERM)
        self._handler = self._on_sigterm
        signal.signal(signal.SIGTERM, self._handler)

    def uninstall(self) -> None:
        if self._handler is not None and signal.getsignal(signal.SIGTERM) == self._handler:
            signal.signal(signal.SIGTERM, self._previous)
        self._handler = None

    def _on_sigterm(self, sig: int, frame: FrameType | None) -> None:
        if self.draining or self._loop is None or self._loop.is_closed():
            self._forward(sig, frame)  # a second SIGTERM: stop now
            return
        self._loop.call_soon_threadsafe(self._start, sig, frame)

    def _start(self, sig: int, frame: FrameType | None) -> None:
        assert self._loop is not None
        self._task = self._loop.create_task(self.begin(), name="drain")
        self._task.add_done_callback(lambda _: self._forward(sig, frame))

    def _forward(self, sig: int, frame: FrameType | None) -> None:
        previous = self._previous
        if callable(previous):
            previous(sig, frame)
            return
        # Not under a server that handles SIGTERM: do what the default would.
        self.uninstall()
        signal.signal(sig, signal.SIG_DFL if previous is None else previous)
        signal.raise_signal(sig)


_REFUSAL = msgspec.json.encode(
    {
        "type": "https://parley.dev/problems/shutting-down",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "this instance is shutting down: retry the request",
        "code": "shutting_down",
    }
)

#: ``/ready`` while draining, in the shape of its usual answer.
_DRAINING = msgspec.json.encode({"status": "draining", "checks": {}})


class DrainGate:
    """ASGI wrapper: while draining, ``/ready`` fails and new work is refused (see the module doc)."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.drain.draining:
            await self.app(scope, receive, send)
            return
        if scope["type"] == ScopeType.WEBSOCKET:
            # Refused before the handshake completes: the client connects again, elsewhere.
            await send({"type": "websocket.close", "code": CLOSE_SERVICE_RESTART, "reason": "server restarting"})
            return
        if scope["type"] == ScopeType.HTTP and (scope.get("method") not in READ_METHODS or scope["path"] == READY_PATH):
            body, media_type = _REFUSAL, b"application/problem+json"
            if scope["path"] == READY_PATH:
                body, media_type = _DRAINING, b"application/json"
            start: Any = {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", media_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                    (b"connection", b"close"),
                ],
            }
            await send(start)
            end: Any = {"type": "http.response.body", "body": body}
            await send(end)
            return
        await self.app(scope, receive, send)
