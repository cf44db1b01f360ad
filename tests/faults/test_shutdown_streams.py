"""SIGTERM with replies streaming over SSE: every stream (the sender's and a follower's of each reply)
gets an end event (``error`` ``interrupted``: resumable elsewhere), the server stops within
SHUTDOWN_TIMEOUT, and an orderly stop logs no traceback (issue 13, "Shutdown and errors"; measured
on this branch's base: 8 replies, 16 streams, stopped 2.7 s after the signal with SHUTDOWN_TIMEOUT=4)."""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent

from tests.e2e.chat_client import chat_user, messages_url, new_conversation, sse, wait_for
from tests.e2e.conftest import RunCli
from tests.e2e.identity_client import NO_HTTP_LIMITS

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

SHUTDOWN_TIMEOUT = 4
STREAMS = 8
LONG = " ".join(f"word{i}" for i in range(400))  # 20 s of reply at 50 ms a word, unless stopped


def test_sigterm_ends_every_open_reply_stream_with_an_event_and_stops_in_time(
    run_cli: RunCli, start_server: Any, postgres_url: str, redis_url: str
) -> None:
    shared = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "OFFLINE_TOKEN_DELAY_MS": "50",
        "SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT),
    }
    assert run_cli("db", "upgrade", env=shared).code == 0
    server = start_server(env={**NO_HTTP_LIMITS, **shared})
    events: dict[int, list[ServerSentEvent]] = {i: [] for i in range(STREAMS)}
    failures: dict[int, str] = {}
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        headers = chat_user(client, "streams@example.com")
        conversations = [new_conversation(client, headers) for _ in range(STREAMS)]

        def read(index: int) -> None:
            try:
                url = messages_url(conversations[index]["id"])
                with (
                    httpx.Client(base_url=server.base_url, timeout=30) as own,
                    sse(own, "POST", url, headers, json={"content": LONG}) as source,
                ):
                    for event in source.iter_sse():
                        events[index].append(event)
            except httpx.HTTPError as exc:  # cut off without an end event
                failures[index] = f"{type(exc).__name__}: {exc}"

        readers = [threading.Thread(target=read, args=(i,)) for i in range(STREAMS)]
        for reader in readers:
            reader.start()
        wait_for(lambda: all(any(e.event == "delta" for e in got) for got in events.values()), timeout=30)

        # A second reader of each reply, following it from the start (as another tab would).
        def follow(index: int) -> None:
            with httpx.Client(base_url=server.base_url, timeout=30) as own:
                page = own.get(messages_url(conversations[index]["id"]), headers=headers).json()["items"]
            reply_id = next(m["id"] for m in page if m["role"] == "assistant")
            url = f"{messages_url(conversations[index]['id'])}/{reply_id}/stream"
            try:
                with (
                    httpx.Client(base_url=server.base_url, timeout=30) as own,
                    sse(own, "GET", url, headers) as source,
                ):
                    for event in source.iter_sse():
                        events[STREAMS + index].append(event)
            except httpx.HTTPError as exc:
                failures[STREAMS + index] = f"{type(exc).__name__}: {exc}"

        for index in range(STREAMS):
            events[STREAMS + index] = []
        followers = [threading.Thread(target=follow, args=(i,)) for i in range(STREAMS)]
        for follower in followers:
            follower.start()
        readers += followers
        wait_for(lambda: all(events[STREAMS + i] for i in range(STREAMS)), timeout=30)
        server.stop(signal.SIGTERM, timeout=SHUTDOWN_TIMEOUT + 20)
        for reader in readers:
            reader.join(timeout=10)

    assert server.process.returncode == 0
    assert not failures, failures
    for index, got in events.items():
        last = got[-1]
        assert last.event == "error", (index, [e.event for e in got[-3:]])
        body = json.loads(last.data)
        assert body["code"] == "interrupted", body
    logs = server.logs()
    assert "Exception in ASGI application" not in logs
    assert "CancelledError" not in logs
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert not [line for line in lines if line.get("level") in ("error", "critical")], logs
    times = {line["event"]: datetime.fromisoformat(line["timestamp"]) for line in lines if "timestamp" in line}
    finished = next(t for event, t in times.items() if event.startswith("Finished server process"))
    took = (finished - times["shutdown_requested"]).total_seconds()
    # Bounded by the setting (the server's own clock, as in tests/e2e/test_shutdown.py).
    assert took < SHUTDOWN_TIMEOUT + 1, f"stopping took {took:.1f} s:\n{logs[-3000:]}"
