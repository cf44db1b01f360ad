"""uvicorn's httptools protocol with a bound on request heads, and a response's head sent with its body.

httptools buffers a request line and headers of any size, so a client could make the server hold a
64 MB header and answer it 200. ``parley serve`` runs this protocol instead: a head (request line
and headers) over ``MAX_HEAD_BYTES``, or with more than ``MAX_HEADER_COUNT`` headers, is answered
``431 Request Header Fields Too Large`` (problem JSON, like every error) and the connection closes.

uvicorn writes a response's head to the socket as soon as the application starts the response, and its
body in a write of its own: two system calls and two TCP segments for every answer, and two reads for
the client. Here a response's first write (its head) is held until its next one in the same turn of the
event loop (the body, which Litestar sends right after the start), and both go out in one write; a body
that comes later (a stream waiting for its first event) finds the head already sent, at the end of the
turn that started the response (``_HeadWithBody``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: The request line and every header together; proxies use 8-64 KiB (nginx 32 KiB by default).
MAX_HEAD_BYTES = 64 * 1024
#: Headers in one request; browsers send about 20.
MAX_HEADER_COUNT = 100
#: How long a refused connection's remaining input is read and dropped before it closes, so the
#: client sees the 431 rather than a connection reset.
LINGER_SECONDS = 2.0


class HeadTooLarge(Exception):
    """Raised inside httptools' header callback; the parser turns it into a parse error."""


def head_too_large_response(reason: str) -> bytes:
    body = json.dumps(
        {
            "type": "https://parley.dev/problems/headers_too_large",
            "title": "Request header fields too large",
            "status": 431,
            "detail": reason,
            "code": "headers_too_large",
        }
    ).encode()
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/problem+json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


class _HeadWithBody:
    """A response cycle's transport whose first write (the head) waits for the next one of the same loop
    turn and goes out with it; every other call is the transport's own (a close sends a held head first)."""

    __slots__ = ("_head", "_loop", "_started", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head + data)
        elif not self._started:
            # The cycle's first write: held for the body, and sent at the latest at the end of this turn.
            self._started = True
            self._head = data
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        head, self._head = self._head, None
        if head is not None and not self._transport.is_closing():
            self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._parsed_head_bytes = 0
        self._parser_events = 0
        self._refusal: str | None = None

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # lingering: the rest of a refused request is dropped
        events_before = self._parser_events
        super().data_received(data)
        if self._refusal is None and self._in_head and self._parser_events == events_before:
            # The whole chunk was head: no head (and no message) ended in it.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(f"request line and headers are at most {MAX_HEAD_BYTES} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0
        self._parsed_head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > MAX_HEADER_COUNT:
            self._refusal = f"at most {MAX_HEADER_COUNT} headers"
            raise HeadTooLarge(self._refusal)
        self._count_head(len(name) + len(value) + 4)  # "name: value\r\n"
        super().on_header(name, value)

    def _count_head(self, size: int) -> None:
        """A head that arrived within one read is measured as it is parsed."""
        self._parsed_head_bytes += size
        if self._parsed_head_bytes > MAX_HEAD_BYTES:
            self._refusal = f"request line and headers are at most {MAX_HEAD_BYTES} bytes"
            raise HeadTooLarge(self._refusal)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._parser_events += 1
        super().on_headers_complete()

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        # Each response's head goes out with its body (the module's docstring).
        cycle.transport = _HeadWithBody(self.transport, self.loop)
        super()._start_asgi_task(cycle, app)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._parser_events += 1
        self._in_head = True
        self._head_bytes = 0

    def send_400_response(self, msg: str) -> None:
        if self._refusal is None:
            super().send_400_response(msg)
            return
        self._answer_431(self._refusal)

    def _refuse(self, reason: str) -> None:
        self._refusal = reason
        self._answer_431(reason)

    def _answer_431(self, reason: str) -> None:
        self.logger.warning("Request refused: %s", reason)
        self.transport.write(head_too_large_response(reason))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_SECONDS, self.transport.close)
