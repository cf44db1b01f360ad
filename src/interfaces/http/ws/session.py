"""One WebSocket of the chat: sign-in, limits, a bounded outbox, and the frame loop.

The transport concerns live here; what each frame does lives in the chat handlers. A socket:
1. is accepted, then authenticated by its ``Authorization`` header, or by a first ``auth`` frame
   within ``WS_AUTH_TIMEOUT_SECONDS`` (browsers cannot set headers); otherwise closed with 4401;
2. takes one of its user's ``WS_MAX_CONNECTIONS_PER_USER`` slots (counted across instances), or is
   closed with 4429;
3. reads frames one by one: a bad frame gets an ``error`` frame and the socket stays open; a frame
   over 64 KiB closes it with 1009;
4. writes through a bounded queue drained by one writer task: a client that does not read fast
   enough to keep ``WS_SEND_QUEUE_FRAMES`` frames in hand is closed with 1013 and can resume its
   replies from the last event id it saw, so a slow reader never grows server memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import WebSocket

from src.application.identity.authenticate import Authenticate, AuthenticateCommand
from src.domain.identity.model import Principal
from src.domain.shared.errors import DomainError, Unauthenticated
from src.infrastructure.logging import get_logger
from src.infrastructure.persistence.outage import DATABASE_RETRY_AFTER_SECONDS, is_database_outage
from src.infrastructure.realtime.connection_slots import ConnectionSlots, SocketSlot
from src.interfaces.http.auth import AUTH_ERROR_STATE
from src.interfaces.http.ws.frames import (
    MAX_FRAME_BYTES,
    AuthFrame,
    FrameError,
    PingFrame,
    decode_client_frame,
    encode,
)

logger = get_logger("parley.ws")

CLOSE_NORMAL = 1000
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY_CONNECTIONS = 4429

FrameHandler = Callable[["SocketSession", Any], Awaitable[None]]


class SocketClosed(Exception):
    """The socket is closing (by the client, or by the server for a reason already sent)."""


class SocketSession:
    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        *,
        authenticate: Authenticate,
        slots: ConnectionSlots,
        auth_timeout: float,
        queue_frames: int,
    ) -> None:
        self.socket = socket
        self._authenticate = authenticate
        self._slots = slots
        self._auth_timeout = auth_timeout
        self._outbox: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=queue_frames)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._close_code = CLOSE_NORMAL
        self._close_reason = ""
        self._slot: SocketSlot | None = None
        self.principal: Principal | None = None
        self._token: str | None = None

    # -- what handlers use ----------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        return self._closing

    def push(self, frame: bytes) -> bool:
        """Queue a frame for the client; ``False`` (and the socket closes with 1013) when the client
        is too far behind. Never blocks, so one slow socket never holds up a reply's other readers."""
        if self._closing:
            return False
        try:
            self._outbox.put_nowait(frame)
        except asyncio.QueueFull:
            logger.warning("ws_slow_consumer", user_id=self._user_id, queued=self._outbox.qsize())
            self.close(CLOSE_TRY_AGAIN_LATER, "slow consumer: reconnect and resume from your last event id")
            return False
        return True

    def error(self, code: str, detail: str, *, client_id: str | None = None, **fields: Any) -> None:
        self.push(encode("error", code=code, detail=detail, client_id=client_id, **fields))

    def close(self, code: int, reason: str = "", *, last_frame: bytes | None = None) -> None:
        """Close now: what waits is dropped, ``last_frame`` (if any) goes out, then the close frame
        (the writer closes the socket)."""
        if self._closing:
            return
        self._closing = True
        self._close_code, self._close_reason = code, reason
        # Drop what waits so the close goes out now: a closing client gets no more frames anyway.
        while not self._outbox.empty():
            self._outbox.get_nowait()
        if last_frame is not None:
            self._outbox.put_nowait(last_frame)
        self._outbox.put_nowait(None)

    def reconnect(self, reason: str) -> None:
        """This instance is shutting down: a ``reconnect`` frame, then close 1012 (service restart).
        The client connects again (to another instance) and resumes its replies from the last event
        id it saw."""
        self.close(CLOSE_SERVICE_RESTART, reason, last_frame=encode("reconnect", reason=reason))

    def spawn(self, work: Awaitable[Any], *, name: str) -> asyncio.Task[Any]:
        """Run ``work`` for as long as the socket is open; cancelled when it closes."""
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    async def current_principal(self) -> Principal:
        """The caller, checked again now: a deactivated account or a signed-out session closes the
        socket (4401); an expired access token gets an ``error`` frame until an ``auth`` frame renews it."""
        assert self.principal is not None
        if self._token is None:
            return self.principal
        self.principal = await self._authenticate(AuthenticateCommand(self._token))
        return self.principal

    async def recheck(self) -> None:
        """The user's access changed somewhere: close with 4401 unless this socket's credentials still
        hold (an access token past its lifetime still counts here: it gets renewed by an ``auth``
        frame, while a signed-out session, a password change or a deactivation ends the socket)."""
        if self._closing or self._token is None:
            return
        try:
            self.principal = await self._authenticate(AuthenticateCommand(self._token, allow_expired=True))
        except Unauthenticated as exc:
            logger.info("ws_signed_out", user_id=self._user_id, reason=exc.code)
            self.close(CLOSE_UNAUTHENTICATED, exc.code)

    # -- the socket's life ----------------------------------------------------------------------

    async def run(
        self, handlers: dict[type[Any], FrameHandler], *, on_open: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Serve the socket until it closes; ``on_open`` runs once the caller is signed in."""
        await self.socket.accept()
        writer = asyncio.create_task(self._write(), name="ws-writer")
        try:
            if await self._sign_in() and await self._take_slot():
                self.spawn(self._keep_slot(), name="ws-slot-lease")
                if on_open is not None:
                    await on_open()
                self.push(encode("ready", user_id=str(self._user_id)))
                await self._read(handlers)
        except SocketClosed:
            pass
        except Exception:
            logger.exception("ws_failed", user_id=self._user_id)
            self.close(CLOSE_SERVER_ERROR, "internal error")
        finally:
            self.close(CLOSE_NORMAL)
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(writer, timeout=5)
            writer.cancel()
            if self._slot is not None:
                await self._slots.release(self._slot)

    @property
    def _user_id(self) -> Any:
        return self.principal.user_id if self.principal is not None else None

    async def _sign_in(self) -> bool:
        user = self.socket.scope.get("user")
        if isinstance(user, Principal):
            self.principal = user
            self._token = _bearer_of(self.socket)
            return True
        failure = self.socket.scope.get("state", {}).get(AUTH_ERROR_STATE)
        if isinstance(failure, DomainError):
            self.close(CLOSE_UNAUTHENTICATED, failure.code)
            return False
        try:
            async with asyncio.timeout(self._auth_timeout):
                frame = await self._first_frame()
        except TimeoutError:
            self.close(CLOSE_UNAUTHENTICATED, "authentication required: send an auth frame first")
            return False
        if not isinstance(frame, AuthFrame):
            self.close(CLOSE_UNAUTHENTICATED, "authentication required: the first frame must be an auth frame")
            return False
        try:
            self.principal = await self._authenticate(AuthenticateCommand(frame.token))
        except Unauthenticated as exc:
            self.close(CLOSE_UNAUTHENTICATED, exc.code)
            return False
        self._token = frame.token
        return True

    async def _first_frame(self) -> Any:
        """The first frame that decodes; one that does not (a token that is not a string, bad JSON)
        gets an ``error`` frame, and the client may still sign in within the grace period."""
        while True:
            try:
                return decode_client_frame(await self._receive())
            except FrameError as exc:
                self.error(exc.code, exc.detail, client_id=exc.client_id)

    async def _take_slot(self) -> bool:
        assert self.principal is not None
        self._slot = await self._slots.acquire(str(self.principal.user_id))
        if self._slot is None:
            self.close(CLOSE_TOO_MANY_CONNECTIONS, f"too many open sockets (at most {self._slots.limit} per user)")
            return False
        return True

    async def _keep_slot(self) -> None:
        assert self._slot is not None
        while True:
            await asyncio.sleep(self._slots.renew_after(self._slot))
            await self._slots.renew(self._slot)

    async def _read(self, handlers: dict[type[Any], FrameHandler]) -> None:
        while not self._closing:
            raw = await self._receive()
            try:
                frame = decode_client_frame(raw)
            except FrameError as exc:
                self.error(exc.code, exc.detail, client_id=exc.client_id)
                continue
            if isinstance(frame, PingFrame):
                self.push(encode("pong", data=frame.data))
            elif isinstance(frame, AuthFrame):
                await self._renew_credentials(frame)
            else:
                handler = handlers.get(type(frame))
                if handler is None:  # pragma: no cover - every frame type has a handler
                    self.error("unknown_frame", f"{type(frame).__name__} is not handled")
                    continue
                try:
                    await handler(self, frame)
                except Exception as exc:
                    if not is_database_outage(exc):
                        raise
                    # The HTTP 503's equivalent: the socket stays open, the client may send again.
                    logger.warning("database_unavailable", user_id=self._user_id, error=f"{type(exc).__name__}: {exc}")
                    self.error(
                        "service_unavailable",
                        "The database cannot be reached; try again shortly",
                        client_id=getattr(frame, "client_id", None),
                        retry_after=DATABASE_RETRY_AFTER_SECONDS,
                    )

    async def _renew_credentials(self, frame: AuthFrame) -> None:
        assert self.principal is not None
        try:
            principal = await self._authenticate(AuthenticateCommand(frame.token))
        except Unauthenticated as exc:
            self.error(exc.code, exc.detail)
            return
        if principal.user_id != self.principal.user_id:
            self.error("auth_user_mismatch", "an open socket cannot change users: open a new one")
            return
        self.principal, self._token = principal, frame.token
        self.push(encode("ready", user_id=str(principal.user_id)))

    async def _receive(self) -> str | bytes:
        event = await self.socket.receive()
        if event["type"] == "websocket.disconnect":
            self.close(CLOSE_NORMAL)
            raise SocketClosed
        text, binary = event.get("text"), event.get("bytes")
        data: str | bytes = text if isinstance(text, str) else binary if isinstance(binary, bytes) else b""
        size = len(data.encode()) if isinstance(data, str) else len(data)
        if size > MAX_FRAME_BYTES:
            self.close(CLOSE_TOO_BIG, f"frames are at most {MAX_FRAME_BYTES} bytes")
            raise SocketClosed
        return data

    async def _write(self) -> None:
        while True:
            frame = await self._outbox.get()
            if frame is None:
                break
            try:
                await self.socket.send_data(frame.decode(), mode="text")
            except Exception:  # noqa: BLE001 - the client is gone: stop writing
                self._closing = True
                return
        with contextlib.suppress(Exception):
            if self.socket.connection_state != "disconnect":
                await self.socket.close(code=self._close_code, reason=self._close_reason[:120])

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("ws_task_failed", task=task.get_name(), error=repr(task.exception()))


def _bearer_of(socket: WebSocket[Any, Any, Any]) -> str | None:
    header = socket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
