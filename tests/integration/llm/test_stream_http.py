"""Parley's lean HTTP/1.1 client for streamed provider calls (``stream_http``), against a raw socket server
that writes exactly the bytes each test gives it: framings, keep-alive, broken and hostile answers, TLS."""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvloop

from src.infrastructure.llm.stream_http import (
    MAX_HEAD,
    ConnectFailed,
    ConnectTimedOut,
    HttpStreamError,
    StreamingPool,
)
from tests.smtp_server import self_signed

HEADERS = {"authorization": "Bearer k", "content-type": "application/json", "accept-encoding": "gzip, deflate"}

#: What the server does with one request: write answers on the connection (and maybe close it).
Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]


def chunked(*pieces: bytes, head: bytes = b"") -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + head + b"\r\n" + body + b"0\r\n\r\n"


def sent(data: bytes, *, close: bool = False, step: int = 0) -> Answer:
    """An answer of these bytes (``step``: a few at a time, each a write of its own), then the connection
    closed when ``close``."""

    async def answer(writer: asyncio.StreamWriter) -> None:
        if step:
            for start in range(0, len(data), step):
                writer.write(data[start : start + step])
                await writer.drain()
                await asyncio.sleep(0)
        else:
            writer.write(data)
        await writer.drain()
        if close:
            writer.close()

    return answer


@dataclass
class RawServer:
    """Reads each request (head and ``Content-Length`` body) and plays the next answer."""

    answers: list[Answer] = field(default_factory=list)
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)
    connections: int = 0
    #: Set when a connection's client closed it.
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    self.gone.set()
                    return
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append((head, await reader.readexactly(length)))
                await self.answers.pop(0)(writer)
                if writer.is_closing():
                    return
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    raw = RawServer()
    listening = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
    raw.port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield raw


def pool_for(server: RawServer, **options: object) -> StreamingPool:
    return StreamingPool(
        f"http://127.0.0.1:{server.port}/v1/chat/completions?api-version=1",
        HEADERS,
        connect_timeout=2,
        **options,  # type: ignore[arg-type]
    )


async def body_of(pool: StreamingPool, payload: bytes = b'{"a":1}') -> tuple[int, bytes]:
    async with pool.post(payload) as answer:
        return answer.status, b"".join([piece async for piece in answer.pieces()])


async def test_the_request_is_the_headers_given_with_host_and_length(server: RawServer) -> None:
    server.answers.append(sent(chunked(b"ok")))
    pool = pool_for(server)
    assert await body_of(pool, b'{"model":"m"}') == (200, b"ok")
    head, body = server.requests[0]
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat/completions?api-version=1 HTTP/1.1"
    assert lines[1] == f"Host: 127.0.0.1:{server.port}"
    assert set(lines[2:-2]) == {f"{k}: {v}" for k, v in HEADERS.items()} | {"Content-Length: 13"}
    assert body == b'{"model":"m"}'
    await pool.aclose()


@pytest.mark.parametrize("step", [0, 1, 7], ids=["at once", "byte by byte", "7 bytes at a time"])
async def test_chunks_arriving_in_any_pieces_make_the_same_body(server: RawServer, step: int) -> None:
    events = [b'data: {"n": %d}\n\n' % n for n in range(20)]
    server.answers += [sent(chunked(*events, head=b"X-Trailer-Free: yes\r\n"), step=step)] * 2
    pool = pool_for(server)
    for _ in range(2):  # and the connection is fit for the next request after it
        assert await body_of(pool) == (200, b"".join(events))
    assert server.connections == 1
    await pool.aclose()


async def test_what_arrives_while_the_reader_is_busy_is_read_without_waiting_for_more(server: RawServer) -> None:
    """A regression: the rest of an answer that came while the reader handled a piece was left in the
    buffer while the reader waited for bytes that would never come (the gateway's streams hung)."""

    async def two_parts(writer: asyncio.StreamWriter) -> None:
        answer = chunked(b"first", b"second")
        writer.write(answer[:60])
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(answer[60:])  # while the reader still handles the first piece

    server.answers.append(two_parts)
    pool = pool_for(server)
    pieces = []
    async with asyncio.timeout(5), pool.post(b"{}") as answer:
        async for piece in answer.pieces():
            pieces.append(piece)
            await asyncio.sleep(0.1)
    assert b"".join(pieces) == b"firstsecond"
    await pool.aclose()


async def test_trailers_chunk_extensions_and_interim_answers_are_read_past(server: RawServer) -> None:
    answer = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n"
    )
    server.answers += [sent(answer), sent(chunked(b"again"))]
    pool = pool_for(server)
    assert await body_of(pool) == (200, b"hello")
    assert await body_of(pool) == (200, b"again")
    assert server.connections == 1
    await pool.aclose()


async def test_a_content_length_answer_and_one_that_ends_with_its_connection(server: RawServer) -> None:
    server.answers += [
        sent(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", step=2),
        sent(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nuntil the end", close=True),
        sent(chunked(b"new")),
    ]
    pool = pool_for(server)
    assert await body_of(pool) == (200, b"hello")
    assert await body_of(pool) == (200, b"until the end")
    assert await body_of(pool) == (200, b"new")
    assert server.connections == 2  # the body framed by the connection's end took its connection with it
    await pool.aclose()


async def test_a_gzip_body_is_decoded(server: RawServer) -> None:
    text = b"data: " + b"x" * 5000 + b"\n\n"
    packed = gzip.compress(text)
    server.answers.append(sent(chunked(packed[:10], packed[10:], head=b"Content-Encoding: gzip\r\n"), step=100))
    pool = pool_for(server)
    assert await body_of(pool) == (200, text)
    await pool.aclose()


async def test_an_encoding_not_asked_for_is_refused(server: RawServer) -> None:
    server.answers.append(sent(chunked(b"??", head=b"Content-Encoding: br\r\n")))
    pool = pool_for(server)
    with pytest.raises(HttpStreamError, match="content encoding"):
        await body_of(pool)
    await pool.aclose()


async def test_error_answers_carry_status_headers_and_body(server: RawServer) -> None:
    server.answers.append(
        sent(b'HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 11\r\n\r\n{"error":1}')
    )
    pool = pool_for(server)
    async with pool.post(b"{}") as answer:
        assert (answer.status, answer.headers["retry-after"], await answer.read()) == (429, "7", b'{"error":1}')
    await pool.aclose()


async def test_a_connection_the_server_closed_while_idle_is_not_used_again(server: RawServer) -> None:
    server.answers += [sent(chunked(b"one"), close=True), sent(chunked(b"two"))]
    pool = pool_for(server)
    assert await body_of(pool) == (200, b"one")
    await asyncio.sleep(0.05)  # the server's close arrives while the connection is idle
    assert await body_of(pool) == (200, b"two")
    assert (server.connections, len(server.requests)) == (2, 2)
    await pool.aclose()


async def test_a_request_on_a_connection_closed_in_passing_is_sent_again_once(server: RawServer) -> None:
    """The server drops a kept-alive connection as the request goes out: it read none of it, so the
    request is sent again on a new connection; the answer is the one of a single request."""

    async def drop(writer: asyncio.StreamWriter) -> None:
        writer.close()  # read the request, then closed before answering: as an idle timeout racing it

    server.answers += [sent(chunked(b"one")), drop, sent(chunked(b"two"))]
    pool = pool_for(server)
    assert await body_of(pool) == (200, b"one")
    assert await body_of(pool) == (200, b"two")
    assert server.connections == 2
    await pool.aclose()


async def test_an_answer_broken_off_midway_is_an_error_and_not_sent_again(server: RawServer) -> None:
    server.answers += [sent(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", close=True)]
    pool = pool_for(server)
    with pytest.raises(HttpStreamError, match="before the answer's last chunk"):
        await body_of(pool)
    assert len(server.requests) == 1
    await pool.aclose()


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (b"SPDY/3 200 OK\r\n\r\n", "not HTTP/1.1"),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", "not HTTP/1.1"),
        (b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "not a number"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "hexadecimal"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", "hexadecimal"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY", "does not end"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffff\r\n", "larger"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 2000, "size line is too long"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * (MAX_HEAD + 10), "head is too long"),
    ],
)
async def test_what_is_not_http_is_an_error_never_a_hang(server: RawServer, answer: bytes, says: str) -> None:
    server.answers.append(sent(answer))
    pool = pool_for(server)
    with pytest.raises(HttpStreamError, match=says):
        async with asyncio.timeout(5):
            await body_of(pool)
    await pool.aclose()


async def test_a_reader_that_stops_early_closes_the_connection_at_once(server: RawServer) -> None:
    async def endless(writer: asyncio.StreamWriter) -> None:
        # A provider generating on and on, until its writes fail: the client went away.
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        try:
            while not writer.is_closing():
                await asyncio.sleep(0.01)
                writer.write(b"4\r\nmore\r\n")
                await writer.drain()
        except ConnectionError:
            pass
        server.gone.set()
        writer.close()

    server.answers += [endless, sent(chunked(b"next"))]
    pool = pool_for(server)
    async with pool.post(b"{}") as answer:
        async for piece in answer.pieces():
            assert piece == b"first"
            break
    await asyncio.wait_for(server.gone.wait(), 5)  # the server sees the client go
    assert await body_of(pool) == (200, b"next")
    assert server.connections == 2
    await pool.aclose()


async def test_idle_connections_expire_and_are_bounded(server: RawServer) -> None:
    server.answers += [sent(chunked(b"a")), sent(chunked(b"b"))]
    pool = pool_for(server, idle_seconds=0.05)
    await body_of(pool)
    await asyncio.sleep(0.1)
    await body_of(pool)
    assert server.connections == 2  # the first was past its idle time

    server.answers += [sent(chunked(b"c")) for _ in range(6)]
    bounded = pool_for(server, max_idle=1)
    await asyncio.gather(*(body_of(bounded) for _ in range(3)))  # three connections at once
    before = server.connections
    await asyncio.gather(*(body_of(bounded) for _ in range(3)))
    assert server.connections - before == 2  # one was kept
    await pool.aclose()
    await bounded.aclose()


async def test_requests_past_the_limit_wait_their_turn_within_the_pool_timeout(server: RawServer) -> None:
    release = asyncio.Event()

    async def slow(writer: asyncio.StreamWriter) -> None:
        await release.wait()
        await sent(chunked(b"slow"))(writer)

    server.answers += [slow, sent(chunked(b"after"))]
    pool = pool_for(server, max_connections=1, pool_timeout=0.1)
    first = asyncio.ensure_future(body_of(pool))
    await asyncio.sleep(0.05)
    with pytest.raises(ConnectTimedOut, match="free"):
        await body_of(pool)
    release.set()
    assert await first == (200, b"slow")
    assert await body_of(pool) == (200, b"after")
    await pool.aclose()


async def test_a_refused_connection_and_one_that_never_opens(server: RawServer) -> None:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()
    with pytest.raises(ConnectFailed, match="could not connect"):
        await body_of(StreamingPool(f"http://127.0.0.1:{port}/x", HEADERS, connect_timeout=2))
    # A listener whose queue of connections is full: the kernel drops the next handshake, which never ends.
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    waiting = [socket.create_connection(full.getsockname(), timeout=1)]  # the one place in the queue
    try:
        pool = StreamingPool(f"http://127.0.0.1:{full.getsockname()[1]}/x", HEADERS, connect_timeout=0.2)
        with pytest.raises(ConnectTimedOut, match="within 0.2 s"):
            await body_of(pool)
    finally:
        for connection in (*waiting, full):
            connection.close()


async def test_https_checks_the_certificate(server: RawServer, tmp_path: Path) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    server.answers += [sent(chunked(b"secure")), sent(chunked(b"kept"))]
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=server_tls)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        pool = StreamingPool(f"https://127.0.0.1:{port}/v1", HEADERS, connect_timeout=2, ssl_context=client_tls)
        assert await body_of(pool) == (200, b"secure")
        assert await body_of(pool) == (200, b"kept")
        await pool.aclose()
        untrusting = StreamingPool(
            f"https://127.0.0.1:{port}/v1", HEADERS, connect_timeout=2, ssl_context=ssl.create_default_context()
        )
        with pytest.raises(ConnectFailed, match="SSL"):
            await body_of(untrusting)
    assert server.connections == 1


def test_it_runs_on_uvloop_as_the_server_does(tmp_path: Path) -> None:
    """``parley serve`` runs on uvloop, whose loop takes fewer options than asyncio's (a request there, in
    plain HTTP and in TLS)."""
    server_tls, client_tls = self_signed(tmp_path)

    async def main() -> list[tuple[int, bytes]]:
        results = []
        for server_side, client_side, scheme in ((None, None, "http"), (server_tls, client_tls, "https")):
            raw = RawServer(answers=[sent(chunked(b"on ", b"uvloop"))])
            listening = await asyncio.start_server(raw.handle, "127.0.0.1", 0, ssl=server_side)
            async with listening:
                port = listening.sockets[0].getsockname()[1]
                pool = StreamingPool(
                    f"{scheme}://127.0.0.1:{port}/v1", HEADERS, connect_timeout=2, ssl_context=client_side
                )
                results.append(await body_of(pool))
                await pool.aclose()
        return results

    assert uvloop.run(main()) == [(200, b"on uvloop")] * 2
