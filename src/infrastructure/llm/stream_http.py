"""A lean HTTP/1.1 client for a provider's streamed calls: keep-alive connections to one URL, a ``POST``
written in one call, the answer's body handed over in the pieces it arrives in.

Why not aiohttp (which the SDKs' transport is, and which stays for calls through a proxy): its request and
response machinery (a request object, a response object, a connector with its timers, per call) cost ~0.6 ms
of CPU per streamed call here, ~12 % of a whole chat reply; this costs a fraction of that. It speaks what
a provider's streamed call needs and no more:

- ``POST`` of a prepared body with fixed headers (the SDK's), to one origin, ``http`` or ``https`` (TLS with
  the host name checked, trusting the authorities of the context given: the SDK's, else the system's);
- answers framed by ``Transfer-Encoding: chunked``, ``Content-Length`` or the end of the connection; interim
  ``1xx`` answers skipped; ``gzip`` and ``deflate`` bodies decoded (the SDK's headers accept them);
- connections kept alive and reused, newest first, up to ``max_idle`` of them, each at most ``idle_seconds``;
  one the server closed while idle is never used again, and a request whose reused connection turns out
  closed before a byte of the answer came (the server had dropped it while the request was on its way: it
  read nothing) is sent once more on a new connection;
- at most ``max_connections`` requests at once (the SDK's own limit), a request waiting at most
  ``pool_timeout`` for its turn;
- an answer not read to its end (the reader stopped, was cancelled or failed) closes its connection at once,
  so the provider sees the client go and stops generating.

Reading is paced by the reader: past ``HIGH_WATER`` bytes unread the socket is not read (TCP flow control
holds the sender). Time limits between bytes are the caller's (``ProviderAdapter`` watches every wait for
the next event); connecting has its own, ``connect_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import zlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

from yarl import URL

#: Unread bytes past which the socket is no longer read until the reader takes some.
HIGH_WATER = 256 * 1024
#: The longest response head (status line and headers) accepted.
MAX_HEAD = 64 * 1024
#: The longest chunk-size line accepted (the size and any extensions).
MAX_SIZE_LINE = 1024
#: An error answer's body is read up to this many bytes.
MAX_ERROR_BODY = 1024 * 1024
#: The largest chunk accepted (a chunk is handed over whole; a provider's are an event or a few each).
MAX_CHUNK = 16 * 1024 * 1024


class HttpStreamError(ConnectionError):
    """The connection broke off, or the answer is not HTTP/1.1 this client can read."""


class ConnectFailed(HttpStreamError):
    """No connection could be opened (refused, unreachable, name unknown, TLS refused)."""


class ConnectTimedOut(ConnectFailed, TimeoutError):
    """No connection was opened within ``connect_timeout``, or none was free within ``pool_timeout``."""


class _Connection(asyncio.Protocol):
    """One connection: what arrived and not yet read, and a wake-up for the reader waiting for more."""

    __slots__ = ("buffer", "closed", "error", "heard", "idle_since", "paused", "transport", "waiter")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False
        #: Whether any byte came since the request was written (a reused connection that ends before
        #: one came was closed by the server while idle: the request may be sent again).
        self.heard = False
        self.idle_since = 0.0

    # -- the transport's callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.heard = True
        if len(self.buffer) > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self.closed = True
        self._wake()
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._wake()

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the reader's side

    @property
    def reusable(self) -> bool:
        transport = self.transport
        return not self.closed and not self.buffer and transport is not None and not transport.is_closing()

    async def more(self) -> bool:
        """Until more bytes arrive (``True``) or the connection ends cleanly (``False``)."""
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        if not self.closed:
            waiter = self.waiter = asyncio.get_running_loop().create_future()
            await waiter
            if not self.closed or self.buffer:
                return True
        if self.error is not None:
            raise HttpStreamError(f"the connection broke off ({type(self.error).__name__})") from self.error
        return False

    def take(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class StreamResponse:
    """An answer: its status, its headers (names in lower case), its body read once (``pieces`` or
    ``read``). Valid inside ``StreamingPool.post``'s block."""

    __slots__ = ("_connection", "_decoder", "_length", "_mode", "complete", "headers", "keep_alive", "status")

    def __init__(self, connection: _Connection, status: int, headers: dict[str, str], keep_alive: bool) -> None:
        self._connection = connection
        self.status = status
        self.headers = headers
        #: Read to its end with the connection fit for the next request.
        self.complete = False
        self.keep_alive = keep_alive
        self._length = 0
        self._decoder: Any = None
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._decoder = zlib.decompressobj(wbits=zlib.MAX_WBITS | 32)  # gzip or zlib, told by its header
        elif encoding not in ("identity", ""):
            raise HttpStreamError(f"the answer's content encoding {encoding!r} is not one Parley asked for")
        coding = headers.get("transfer-encoding")
        if coding is not None:
            if coding.rsplit(",", 1)[-1].strip().lower() == "chunked":
                self._mode = "chunked"
                # Both framings sent: the message's length is the chunks', and the connection is not to be trusted.
                self.keep_alive = keep_alive and "content-length" not in headers
            else:
                self._mode, self.keep_alive = "close", False
        elif (length := headers.get("content-length")) is not None:
            if not length.isdigit():
                raise HttpStreamError("the answer's Content-Length is not a number")
            self._mode, self._length = "length", int(length)
        else:
            self._mode, self.keep_alive = "close", False

    async def read(self, limit: int = MAX_ERROR_BODY) -> bytes:
        """The whole body (at most ``limit`` bytes of it; the rest is not read)."""
        parts: list[bytes] = []
        size = 0
        async for piece in self.pieces():
            parts.append(piece)
            size += len(piece)
            if size >= limit:
                break
        return b"".join(parts)[:limit]

    async def pieces(self) -> AsyncIterator[bytes]:
        """The body, decoded, in the pieces it arrives in (all of what is there at each read)."""
        decoder = self._decoder
        async for raw in self._raw():
            data = decoder.decompress(raw) if decoder is not None else raw
            if data:
                yield data
        if decoder is not None and (tail := decoder.flush()):
            yield tail

    async def _raw(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if self._mode == "length":
            remaining = self._length
            while remaining:
                if not connection.buffer and not await connection.more():
                    raise HttpStreamError("the connection closed before the answer's end")
                data = connection.take(remaining)
                remaining -= len(data)
                yield data
        elif self._mode == "close":
            while True:
                if connection.buffer:
                    yield connection.take(len(connection.buffer))
                elif not await connection.more():
                    return
        else:
            while True:
                data, done = self._chunks()
                if data:
                    yield data  # what comes while the reader handles it is parsed next, not waited for
                if done:
                    break
                if not data and not await connection.more():
                    raise HttpStreamError("the connection closed before the answer's last chunk")
        self.complete = True

    def _chunks(self) -> tuple[bytes, bool]:
        """The complete chunks there now, joined, and whether the last one (and its trailers) was among them."""
        buffer = self._connection.buffer
        parts: list[bytes] = []
        position, done = 0, False
        while True:
            end_of_line = buffer.find(b"\r\n", position)
            if end_of_line < 0:
                if len(buffer) - position > MAX_SIZE_LINE:
                    raise HttpStreamError("a chunk's size line is too long")
                break
            size_text = bytes(buffer[position:end_of_line]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpStreamError("a chunk's size is not a hexadecimal number") from None
            if size_text.startswith((b"-", b"+", b"0x", b"0X")) or "_" in size_text.decode("latin-1"):
                raise HttpStreamError("a chunk's size is not a hexadecimal number")
            if size > MAX_CHUNK:
                raise HttpStreamError("a chunk is larger than Parley accepts")
            if size == 0:
                end = buffer.find(b"\r\n\r\n", end_of_line)  # the end of the trailers (none: at once)
                if end < 0:
                    if len(buffer) - end_of_line > MAX_HEAD:
                        raise HttpStreamError("the answer's trailers are too long")
                    break
                position, done = end + 4, True
                break
            start = end_of_line + 2
            if len(buffer) < start + size + 2:
                break
            if buffer[start + size : start + size + 2] != b"\r\n":
                raise HttpStreamError("a chunk does not end where its size says")
            parts.append(bytes(buffer[start : start + size]))
            position = start + size + 2
        if position:
            del buffer[:position]
        return b"".join(parts), done


async def _read_head(connection: _Connection) -> tuple[int, dict[str, str], bool]:
    """The status, headers and keep-alive of the next final answer (``1xx`` ones skipped)."""
    while True:
        buffer = connection.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD:
                raise HttpStreamError("the answer's head is too long")
            if not await connection.more():
                raise HttpStreamError("the connection closed before an answer came")
            continue
        lines = connection.take(end + 4)[:-4].split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        status_text = rest[:3]
        if not version.startswith(b"HTTP/1.") or len(status_text) != 3 or not status_text.isdigit():
            raise HttpStreamError("the answer is not HTTP/1.1")
        status = int(status_text)
        if 100 <= status < 200 and status != 101:
            continue  # an interim answer (103 Early Hints, say): the final one follows
        headers: dict[str, str] = {}
        name = ""
        for line in lines[1:]:
            if line[:1] in (b" ", b"\t") and name:  # an obsolete folded line continues the last header
                headers[name] += " " + line.strip().decode("latin-1")
                continue
            raw_name, colon, value = line.partition(b":")
            if not colon or not raw_name or raw_name != raw_name.strip():
                raise HttpStreamError("the answer has a malformed header line")
            name = raw_name.decode("latin-1").lower()
            text = value.strip().decode("latin-1")
            headers[name] = f"{headers[name]}, {text}" if name in headers else text
        tokens = {token.strip().lower() for token in headers.get("connection", "").split(",")}
        keep_alive = "keep-alive" in tokens if version == b"HTTP/1.0" else "close" not in tokens
        return status, headers, keep_alive


class StreamingPool:
    """Keep-alive HTTP/1.1 connections to ``url``'s origin, for ``POST`` requests to ``url`` with ``headers``
    (``Host`` and ``Content-Length`` are added; the rest are sent as given)."""

    def __init__(
        self,
        url: str | URL,
        headers: Mapping[str, str],
        *,
        connect_timeout: float | None,
        pool_timeout: float | None = None,
        max_connections: int = 1000,
        max_idle: int = 100,
        idle_seconds: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        target = URL(str(url), encoded=True)
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError(f"not an http(s) URL: {target}")
        self.host = target.host
        self.port = target.port or (443 if target.scheme == "https" else 80)
        self._ssl: ssl.SSLContext | None = None
        if target.scheme == "https":
            if ssl_context is None:
                ssl_context = ssl.create_default_context()
                ssl_context.set_alpn_protocols(["http/1.1"])
            self._ssl = ssl_context
        authority = f"[{self.host}]" if ":" in self.host else self.host
        if not target.is_default_port():
            authority += f":{self.port}"
        lines = [f"POST {target.raw_path_qs or '/'} HTTP/1.1", f"Host: {authority}"]
        lines += [
            f"{name}: {value}" for name, value in headers.items() if name.lower() not in ("host", "content-length")
        ]
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._slots = asyncio.Semaphore(max_connections)
        self._max_idle = max_idle
        self._idle_seconds = idle_seconds
        self._idle: list[_Connection] = []
        self._closed = False

    @contextlib.asynccontextmanager
    async def post(self, body: bytes) -> AsyncIterator[StreamResponse]:
        """Send ``body``; the answer's head read. Leaving the block returns the connection to the pool when
        the answer was read to its end, and closes it otherwise."""
        if self._closed:
            raise HttpStreamError("the client is closed")
        await self._take_slot()
        connection: _Connection | None = None
        try:
            request = self._head + b"%d\r\n\r\n" % len(body) + body
            connection = self._reused()
            if connection is not None:
                try:
                    status, headers, keep_alive = await self._send(connection, request)
                except HttpStreamError:
                    if connection.heard:
                        raise
                    connection.abort()  # closed by the server while it sat idle: it read nothing of this
                    connection = None
            if connection is None:
                connection = await self._connect()
                status, headers, keep_alive = await self._send(connection, request)
            response = StreamResponse(connection, status, headers, keep_alive)
            yield response
            if response.complete and response.keep_alive and connection.reusable and not self._closed:
                self._keep(connection)
                connection = None
        finally:
            if connection is not None:
                connection.abort()
            self._slots.release()

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            if connection.transport is not None:
                connection.transport.close()

    # -- connections

    async def _take_slot(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns at once
            return
        try:
            async with asyncio.timeout(self._pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise ConnectTimedOut(f"no connection to {self.host} was free in time") from None

    def _reused(self) -> _Connection | None:
        now = asyncio.get_running_loop().time()
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable and now - connection.idle_since < self._idle_seconds:
                return connection
            connection.abort()
        return None

    def _keep(self, connection: _Connection) -> None:
        connection.idle_since = asyncio.get_running_loop().time()
        self._idle.append(connection)
        if len(self._idle) > self._max_idle:
            self._idle.pop(0).abort()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, connection = await loop.create_connection(
                    _Connection,
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl is not None else None,
                )  # no happy_eyeballs_delay: uvloop's (what `parley serve` runs on) takes none
        except TimeoutError:
            raise ConnectTimedOut(f"no connection to {self.host} within {self._connect_timeout:g} s") from None
        except OSError as exc:  # refused, unreachable, unknown name, TLS refused (ssl.SSLError)
            raise ConnectFailed(f"could not connect to {self.host} ({type(exc).__name__})") from exc
        return connection

    @staticmethod
    async def _send(connection: _Connection, request: bytes) -> tuple[int, dict[str, str], bool]:
        transport = connection.transport
        if transport is None or transport.is_closing():
            raise HttpStreamError("the connection is closed")
        connection.heard = False
        transport.write(request)
        return await _read_head(connection)
