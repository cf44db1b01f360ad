"""PostgreSQL out of reach under a running ``parley serve``: 503 with Retry-After, never a 500.

Parley reaches its database through a TCP relay the test cuts (every connection dropped, new ones
refused, as when the server is down) and restores.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.chat_client import chat_user, new_conversation, wait_for
from tests.e2e.conftest import RunCli
from tests.e2e.identity_client import NO_HTTP_LIMITS
from tests.e2e.test_ws_chat import chat_socket, frame, send
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture
def relay(postgres_url: str) -> Iterator[TcpProxy]:
    target = make_url(postgres_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    proxy.start()
    yield proxy
    proxy.close()


def through(relay: TcpProxy, postgres_url: str) -> str:
    return make_url(postgres_url).set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) >= 1
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["retry_after"] == int(response.headers["retry-after"])


async def test_a_database_outage_is_503_with_retry_after_over_rest_and_websocket(
    run_cli: RunCli, start_server: Any, postgres_url: str, relay: TcpProxy
) -> None:
    database = {"DATABASE_URL": through(relay, postgres_url), "DB_POOL_TIMEOUT": "2", "OFFLINE_TOKEN_DELAY_MS": "0"}
    migrated = run_cli("db", "upgrade", env={"DATABASE_URL": postgres_url})
    assert migrated.code == 0, migrated.stderr
    server = start_server(env={**NO_HTTP_LIMITS, **database})
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        headers = chat_user(client, "outage@example.com")
        conversation = new_conversation(client, headers)
        created = client.post("/api/v1/api-keys", json={"name": "sdk"}, headers=headers)
        assert created.status_code == 201, created.text
        sdk = {"Authorization": f"Bearer {created.json()['key']}"}
        completion = {"model": "offline/echo", "messages": [{"role": "user", "content": "hi"}]}
        # A first call while the database is up: the key is in the near cache, so the call after the
        # cut gets as far as the budget check (a statement on the driver itself, on PostgreSQL).
        assert client.post("/v1/chat/completions", json=completion, headers=sdk).status_code == 200
        async with chat_socket(server, headers) as socket:
            assert (await frame(socket))["type"] == "ready"

            relay.cut()
            assert_unavailable(client.get("/api/v1/conversations", headers=headers))
            assert_unavailable(client.post("/api/v1/conversations", json={}, headers=headers))
            assert client.get("/ready").status_code == 503
            # The OpenAI-compatible gateway: the model list needs no database (the key is in the near
            # cache); a completion does (its budget check), and says so in OpenAI's shape (the SDKs
            # retry a 503).
            assert client.get("/v1/models", headers=sdk).status_code == 200
            completed = client.post("/v1/chat/completions", json=completion, headers=sdk)
            assert completed.status_code == 503, completed.text
            assert completed.headers["retry-after"] == "5"
            assert completed.json()["error"]["type"] == "server_error"

            # The socket stays open and says the same in an error frame.
            await send(socket, content="hello?", client_id="c1", conversation_id=conversation["id"])
            refused = await frame(socket)
            assert refused["type"] == "error", refused
            assert refused["code"] == "service_unavailable"
            assert refused["client_id"] == "c1"
            assert refused["retry_after"] >= 1
            await socket.send(json.dumps({"type": "ping"}))
            assert (await frame(socket))["type"] == "pong"

        relay.restore()
        listed = wait_for(lambda: (r := client.get("/api/v1/conversations", headers=headers)).status_code == 200 and r)
        assert [c["id"] for c in listed.json()["items"]] == [conversation["id"]]

    logs = server.logs()
    assert "database_unavailable" in logs
    assert "unhandled_exception" not in logs
