"""``parley serve``'s HTTP protocol: a response's head goes out in one write with its body.

The protocol is uvicorn's httptools one (``BoundedHttpToolsProtocol``) on a transport that records what
is written, driven by small ASGI applications; the head bound (431) has its end-to-end tests in
``tests/e2e/test_hostile_transport.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from src.interfaces.http.server_protocol import BoundedHttpToolsProtocol

REQUEST = b"GET /x HTTP/1.1\r\nHost: parley.test\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    """What the protocol writes, write by write; closing is recorded, not done."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.protocol: Any = None

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_protocol(self) -> Any:
        return self.protocol


def connect(app: Any) -> tuple[BoundedHttpToolsProtocol, RecordingTransport]:
    config = Config(app=app, http=BoundedHttpToolsProtocol, lifespan="off", access_log=False)
    protocol = BoundedHttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_responses_head_and_body_go_out_in_one_write() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    protocol, transport = connect(app)
    protocol.data_received(REQUEST)
    await settle()
    assert len(transport.writes) == 1, transport.writes
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(b"\r\n\r\nok")


async def test_a_head_whose_body_comes_later_goes_out_at_the_end_of_its_turn() -> None:
    """A stream waiting for its first event: the client sees the head without waiting for it."""
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await release.wait()
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    protocol, transport = connect(app)
    protocol.data_received(REQUEST)
    await settle()
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(b"\r\n\r\n")
    release.set()
    await settle()
    assert transport.writes[1:] == [b"9\r\ndata: 1\n\n\r\n", b"0\r\n\r\n"]


async def test_a_connection_closed_after_the_start_sends_the_head_first() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        raise RuntimeError("the application failed after starting its response")

    protocol, transport = connect(app)
    protocol.data_received(REQUEST)
    await settle()
    assert transport.closed
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")


async def test_pipelined_requests_are_answered_in_order_each_in_one_write() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = scope["path"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        if scope["path"] == "/a":
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": body})

    protocol, transport = connect(app)
    protocol.data_received(REQUEST.replace(b"/x", b"/a") + REQUEST.replace(b"/x", b"/b"))
    await asyncio.sleep(0.05)
    await settle()
    first_head, first_body, second = transport.writes  # /a's body came turns after its head; /b's at once
    assert first_head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert first_head.endswith(b"\r\n\r\n")
    assert first_body == b"/a"
    assert second.startswith(b"HTTP/1.1 200 OK\r\n")
    assert second.endswith(b"\r\n\r\n/b")


async def test_a_head_request_has_its_head_sent() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    protocol, transport = connect(app)
    protocol.data_received(REQUEST.replace(b"GET", b"HEAD"))
    await settle()
    assert b"".join(transport.writes).startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"".join(transport.writes).endswith(b"\r\n\r\n")
