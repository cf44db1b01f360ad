"""Hostile input at the transport through a real ``parley serve``: oversized request heads (431) and
WebSocket frames that are deep, not UTF-8 or mistyped (an ``error`` frame, the socket stays open)."""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

import httpx
import pytest

from src.interfaces.http.server_protocol import MAX_HEAD_BYTES, MAX_HEADER_COUNT
from tests.e2e.chat_client import chat_user
from tests.e2e.conftest import RunCli, Server
from tests.e2e.identity_client import serve
from tests.e2e.test_ws_chat import chat_socket, close_code, frame

pytestmark = pytest.mark.e2e


def raw_request(server: Server, head: bytes, *, timeout: float = 10) -> bytes:
    """Send ``head`` on a fresh connection and read the answer until the server closes it (or a 200 is in)."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        with contextlib.suppress(OSError):  # refused half-way: the answer is read below
            connection.sendall(head)
        answer = b""
        while b"\r\n\r\n" not in answer or b"content-length" not in answer.lower():
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def get_health(extra_headers: bytes) -> bytes:
    return b"GET /health HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + b"\r\n"


def test_oversized_request_heads_are_431(run_cli: RunCli, start_server: Any) -> None:
    server = serve(run_cli, start_server)
    fine = raw_request(server, get_health(b"X-Fine: " + b"a" * 30_000 + b"\r\n"))
    assert fine.startswith(b"HTTP/1.1 200"), fine[:200]
    for oversized in (
        b"X-Big: " + b"a" * (MAX_HEAD_BYTES + 1) + b"\r\n",  # one huge header, in one read
        b"X-Huge: " + b"a" * (2 * 1024 * 1024) + b"\r\n",  # megabytes: refused before they are buffered
        b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADER_COUNT + 1)),  # too many headers
    ):
        answer = raw_request(server, get_health(oversized))
        assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"content-type: application/problem+json" in head
        assert json.loads(body)["code"] == "headers_too_large"
    # A large body after a small request on one keep-alive connection is a body, not a head.
    with httpx.Client(base_url=server.base_url) as client:
        headers = chat_user(client, "big@example.com")
        for size in (10, 150_000, 10, 150_000):
            created = client.post("/api/v1/articles", json={"title": "Big", "body": "a" * size}, headers=headers)
            assert created.status_code == 201, created.text[:200]
    assert (httpx.get(f"{server.base_url}/health")).status_code == 200


async def test_hostile_frames_get_error_frames_and_the_socket_stays_open(run_cli: RunCli, start_server: Any) -> None:
    server = serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="0")
    with httpx.Client(base_url=server.base_url, timeout=15) as client:
        headers = chat_user(client, "hostile@example.com")
    token = headers["Authorization"].removeprefix("Bearer ")
    hostile: list[str | bytes] = [
        '{"type": "ping", "data": ' + "[" * 5000 + "]" * 5000 + "}",  # under 64 KiB, 5,000 deep
        b'{"type": "ping", "data": "\xff\xfe"}',  # a binary frame that is not UTF-8
        '{"type": "auth", "token": 12345}',  # a token that is not a string
        '{"type": "auth", "token": {"nested": [1, 2]}}',
        '{"type": "send", "content": "a\\u0000b", "client_id": "nul"}',  # NUL is refused as on HTTP
    ]
    async with chat_socket(server, headers) as socket_:
        assert (await frame(socket_))["type"] == "ready"
        for raw in hostile:
            await socket_.send(raw)
            error = await frame(socket_)
            assert (error["type"], error["code"]) == ("error", "invalid_frame"), (raw[:40], error)
        await socket_.send(json.dumps({"type": "ping", "data": "still here"}))
        assert await frame(socket_) == {"type": "pong", "data": "still here"}
    # Before signing in: a mistyped auth frame is an error frame, and a good one still signs in.
    async with chat_socket(server) as browser:
        await browser.send('{"type": "auth", "token": 12345}')
        error = await frame(browser)
        assert (error["type"], error["code"]) == ("error", "invalid_frame")
        await browser.send(json.dumps({"type": "auth", "token": token}))
        assert (await frame(browser))["type"] == "ready"
    async with chat_socket(server) as wrong:  # a well-formed first frame that is not auth still closes
        await wrong.send(json.dumps({"type": "ping"}))
        assert await close_code(wrong) == 4401
    assert "ws_failed" not in server.logs()
    assert "Traceback" not in server.logs()
