"""The drain of an API instance (src/interfaces/http/drain.py), on its own: no server, no sockets."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from typing import Any

import pytest

from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.realtime.reply_tasks import InProcessReplyTasks
from src.interfaces.http.drain import CLOSE_SERVICE_RESTART, Drain, DrainGate


class FakeSocket:
    def __init__(self, drain: Drain, *, closes_after: float | None = 0.0) -> None:
        self.drain = drain
        self.closes_after = closes_after
        self.reasons: list[str] = []

    def reconnect(self, reason: str) -> None:
        self.reasons.append(reason)
        if self.closes_after is not None:
            asyncio.get_running_loop().call_later(self.closes_after, self.drain.untrack, self)


async def call(gate: DrainGate, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await gate(scope, receive, send)  # type: ignore[arg-type]
    return sent


async def passed_through(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "passed"})


def http(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": []}


async def test_open_sockets_are_sent_away_and_waited_for() -> None:
    drain = Drain(socket_close_seconds=2)
    sockets = [FakeSocket(drain, closes_after=0.05), FakeSocket(drain, closes_after=0.1)]
    for socket in sockets:
        assert drain.track(socket)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await drain.begin()
    assert drain.draining
    assert all(socket.reasons for socket in sockets)
    assert drain.open_sockets == 0
    assert loop.time() - started < 1  # returned once the last one closed, not at the deadline


async def test_the_open_sockets_gauge_counts_each_tracked_socket_once() -> None:
    def gauge() -> float:
        return METRICS.registry.get_sample_value("parley_websockets_open") or 0.0

    before = gauge()
    drain = Drain()
    first, second = FakeSocket(drain), FakeSocket(drain)
    drain.track(first)
    drain.track(first)
    drain.track(second)
    assert gauge() == before + 2
    drain.untrack(first)
    drain.untrack(first)  # closed twice (the handler's finally after a drain's own close): once
    assert gauge() == before + 1
    await drain.begin()  # sends the second away; it closes and is untracked
    await asyncio.sleep(0.05)
    late = FakeSocket(drain)
    assert not drain.track(late)  # refused while draining: never counted
    drain.untrack(late)
    assert gauge() == before


async def test_a_socket_that_never_closes_holds_the_drain_only_until_the_deadline() -> None:
    drain = Drain(socket_close_seconds=0.2)
    stuck = FakeSocket(drain, closes_after=None)
    drain.track(stuck)
    await asyncio.wait_for(drain.begin(), timeout=2)
    assert stuck.reasons
    assert drain.open_sockets == 1


async def test_a_socket_opened_while_draining_is_sent_away_at_once() -> None:
    drain = Drain()
    await drain.begin()
    late = FakeSocket(drain)
    assert not drain.track(late)
    assert late.reasons


async def test_before_the_drain_everything_passes() -> None:
    gate = DrainGate(passed_through, Drain())
    for method, path in (("POST", "/api/v1/conversations"), ("GET", "/ready")):
        assert await call(gate, http(method, path)) == [{"type": "passed"}]


async def test_while_draining_new_work_and_readiness_are_refused_but_reads_go_on() -> None:
    drain = Drain()
    await drain.begin()
    gate = DrainGate(passed_through, drain)

    refused = await call(gate, http("POST", "/api/v1/conversations/x/messages"))
    assert refused[0]["status"] == 503
    headers = dict(refused[0]["headers"])
    assert headers[b"retry-after"] == b"1"
    assert headers[b"content-type"] == b"application/problem+json"
    assert json.loads(refused[1]["body"])["code"] == "shutting_down"

    ready = await call(gate, http("GET", "/ready"))
    assert ready[0]["status"] == 503
    assert json.loads(ready[1]["body"])["status"] == "draining"

    for method in ("GET", "HEAD", "OPTIONS"):
        assert await call(gate, http(method, "/api/v1/conversations")) == [{"type": "passed"}]

    socket = await call(gate, {"type": "websocket", "path": "/api/v1/ws/chat", "headers": []})
    assert socket == [{"type": "websocket.close", "code": CLOSE_SERVICE_RESTART, "reason": "server restarting"}]


async def test_replies_get_what_is_left_of_the_timeout_since_sigterm() -> None:
    drain = Drain()
    await drain.begin()
    replies = InProcessReplyTasks()
    quick = replies.spawn(uuid.uuid4(), asyncio.sleep(0.05, result="done"))
    slow = replies.spawn(uuid.uuid4(), asyncio.sleep(30))
    await drain.finish_replies(replies, timeout=0.5)
    assert quick.result() == "done"
    assert slow.cancelled()


async def test_sigterm_drains_first_then_hands_over_to_the_server() -> None:
    calls: list[tuple[str, int]] = []
    drain = Drain(socket_close_seconds=1)
    socket = FakeSocket(drain, closes_after=0.05)
    previous = signal.signal(signal.SIGTERM, lambda sig, _frame: calls.append(("server", sig)))
    try:
        drain.install()
        drain.track(socket)
        signal.raise_signal(signal.SIGTERM)
        for _ in range(100):
            if calls:
                break
            await asyncio.sleep(0.02)
        # The server heard the SIGTERM only after the socket was sent away and had closed.
        assert calls == [("server", signal.SIGTERM)]
        assert socket.reasons
        assert drain.open_sockets == 0
        # A second SIGTERM goes straight to the server.
        signal.raise_signal(signal.SIGTERM)
        assert calls == [("server", signal.SIGTERM)] * 2
        drain.uninstall()
        assert signal.getsignal(signal.SIGTERM) is not drain._handler
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_every_writing_method_is_refused_while_draining(method: str) -> None:
    drain = Drain()
    await drain.begin()
    refused = await call(DrainGate(passed_through, drain), http(method, "/api/v1/me"))
    assert refused[0]["status"] == 503
