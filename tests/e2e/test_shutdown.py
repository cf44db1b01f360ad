"""Stopping the server while a client waits for a whole reply (a JSON send): the reply is stored as
interrupted, the client is answered, and the server is gone within SHUTDOWN_TIMEOUT without an
error line (issue 21, "Start-up and shutdown")."""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.e2e.chat_client import chat_user, messages_url, new_conversation, wait_for
from tests.e2e.conftest import RunCli
from tests.e2e.identity_client import serve

pytestmark = pytest.mark.e2e

SHUTDOWN_TIMEOUT = 4


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_during_a_json_send_answers_it_and_stops_in_time(
    run_cli: RunCli, start_server: Any, sig: signal.Signals
) -> None:
    server = serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="50", SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT))
    long_message = " ".join(f"word{i}" for i in range(300))  # 15 s of reply unless stopped
    answered: dict[str, httpx.Response] = {}
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        headers = chat_user(client, "ada@example.com")
        conversation = new_conversation(client, headers)

        def send() -> None:
            answered["response"] = client.post(
                messages_url(conversation["id"]), json={"content": long_message}, headers=headers
            )

        sender = threading.Thread(target=send)
        sender.start()

        def reply_under_way() -> bool:
            page = client.get(messages_url(conversation["id"]), headers=headers).json()["items"]
            return any(m["role"] == "assistant" and m["content"] for m in page)

        wait_for(reply_under_way)
        elapsed = server.stop(sig, timeout=SHUTDOWN_TIMEOUT + 10)
        sender.join(timeout=10)

    assert server.process.returncode == 0
    response = answered["response"]
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "interrupted"
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    assert not [line for line in lines if line.get("level") in ("error", "critical")], server.logs()
    assert "Exception in ASGI application" not in server.logs()
    assert any(line.get("event") == "api_stopped" for line in lines)
    # From the signal to the server's last line, by the server's own clock (the process's exit after
    # it, on a loaded machine, is the interpreter's).
    times = {line["event"]: datetime.fromisoformat(line["timestamp"]) for line in lines if "timestamp" in line}
    finished = next(t for event, t in times.items() if event.startswith("Finished server process"))
    took = (finished - times["shutdown_requested"]).total_seconds()
    assert took < SHUTDOWN_TIMEOUT, f"stopping took {took:.1f} s ({elapsed:.1f} s to exit):\n{server.logs()}"
    # What was written before the stop is stored.
    exported = run_cli("conversations", "export", conversation["id"], "--format", "json")
    assert exported.code == 0, exported.stderr
    reply = json.loads(exported.stdout)["messages"][1]
    assert reply["status"] == "complete"
    assert 0 < len(reply["content"]) < len(long_message)
    assert long_message.startswith(reply["content"])
