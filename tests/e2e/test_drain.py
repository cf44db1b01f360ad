"""A rolling deploy through real processes: SIGTERM on an instance with a WebSocket and an SSE
stream open, replies under way (src/interfaces/http/drain.py)."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.chat_client import chat_user, messages_url, new_conversation, sse, stored_when_complete
from tests.e2e.conftest import RunCli
from tests.e2e.identity_client import serve
from tests.e2e.test_ws_chat import LONG, chat_socket, frame, until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


async def test_sigterm_sends_sockets_elsewhere_and_lets_replies_finish(
    run_cli: RunCli, start_server: Any, postgres_url: str, redis_url: str
) -> None:
    # ~60 words at 40 ms: a reply takes a few seconds, well inside SHUTDOWN_TIMEOUT.
    shared = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "OFFLINE_TOKEN_DELAY_MS": "40",
        "SHUTDOWN_TIMEOUT": "15",
    }
    migrated = run_cli("db", "upgrade", env=shared)
    assert migrated.code == 0, migrated.stderr
    leaving = serve(run_cli, start_server, **shared)
    staying = start_server(env={"RATE_LIMIT_ENABLED": "false", **shared})
    with httpx.Client(base_url=leaving.base_url, timeout=30) as client:
        headers = chat_user(client, "rolling@example.com")
        socket_conversation = new_conversation(client, headers)
        sse_conversation = new_conversation(client, headers)

        # An SSE reply streaming from the leaving instance, read in a thread.
        sse_events: list[Any] = []
        sse_started = threading.Event()

        def read_sse() -> None:
            with (
                httpx.Client(base_url=leaving.base_url, timeout=30) as own,
                sse(own, "POST", messages_url(sse_conversation["id"]), headers, json={"content": LONG}) as source,
            ):
                for event in source.iter_sse():
                    sse_events.append(event)
                    sse_started.set()

        reader = threading.Thread(target=read_sse)
        reader.start()
        assert await asyncio.to_thread(sse_started.wait, 15)

        async with chat_socket(leaving, headers) as socket:
            await frame(socket)  # ready
            await socket.send(
                json.dumps(
                    {"type": "send", "content": LONG, "conversation_id": socket_conversation["id"], "client_id": "c1"}
                )
            )
            ack = [await frame(socket)]
            assert ack[-1]["type"] == "ack", ack
            reply_id = ack[-1]["message_id"]
            deltas = [f for f in await until(socket, "delta", message_id=reply_id) if f["type"] == "delta"]
            while len(deltas) < 5:
                got = await frame(socket)
                if got["type"] == "delta" and got["message_id"] == reply_id:
                    deltas.append(got)

            leaving.process.send_signal(signal.SIGTERM)
            # Whatever was already on its way, then `reconnect`, then the close (1012).
            frames = await until(socket, "reconnect")
            deltas += [f for f in frames if f["type"] == "delta" and f["message_id"] == reply_id]
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1012

        # The client reconnects (here: to the other instance) and resumes where it was.
        async with chat_socket(staying, headers) as socket:
            await frame(socket)
            await socket.send(
                json.dumps({"type": "resume", "message_id": reply_id, "last_event_id": deltas[-1]["event_id"]})
            )
            resumed = await until(socket, "done", message_id=reply_id)
        deltas += [f for f in resumed if f["type"] == "delta"]
        ids = [int(f["event_id"]) for f in deltas]
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # nothing lost, nothing twice
        assert "".join(f["text"] for f in deltas) == LONG
        assert resumed[-1]["message"]["finish_reason"] == "stop"

        # The SSE stream open on the leaving instance ran to its end before the process left.
        await asyncio.to_thread(reader.join, 30)
        assert [e.event for e in sse_events][-1] == "done"
        assert "".join(json.loads(e.data)["text"] for e in sse_events if e.event == "delta") == LONG

    assert leaving.process.wait(timeout=30) == 0
    logs = leaving.logs()
    assert "drain_started" in logs
    assert "replies_interrupted" not in logs
    with httpx.Client(base_url=staying.base_url, timeout=30) as client:
        stored = stored_when_complete(client, headers, socket_conversation["id"], reply_id)
        assert stored["content"] == LONG
