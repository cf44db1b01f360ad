"""Issue 13, "Hangs and lockouts": the WebSocket slots held by an instance killed with -9 free within
its liveness (~10 s), not the sockets' 60 s lease, on real `parley serve` processes. Bounded waits."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.chat_client import chat_user
from tests.e2e.conftest import RunCli
from tests.e2e.identity_client import NO_HTTP_LIMITS
from tests.e2e.test_ws_chat import chat_socket, close_code, frame, ws_url

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


async def admitted(server: Any, headers: dict[str, str]) -> bool:
    """Whether a new socket on ``server`` gets ``ready`` (``False``: refused with 4429)."""
    try:
        async with connect(ws_url(server), additional_headers=headers, open_timeout=10) as socket:
            kind: str = (await frame(socket, timeout=10))["type"]
            return kind == "ready"
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else None
    if code != 4429:
        raise AssertionError(f"a socket was refused with {code}, not 4429 (too many sockets)")
    return False


async def test_the_sockets_of_a_killed_instance_stop_counting_within_seconds(
    run_cli: RunCli, start_server: Any, postgres_url: str, redis_url: str
) -> None:
    env = {**NO_HTTP_LIMITS, "DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "WS_MAX_CONNECTIONS_PER_USER": "2"}
    migrated = run_cli("db", "upgrade", env={"DATABASE_URL": postgres_url})
    assert migrated.code == 0, migrated.stderr
    doomed, survivor = start_server(env=env), start_server(env=env)
    with httpx.Client(base_url=survivor.base_url, timeout=15) as client:
        headers = chat_user(client, "tabs@example.com")
    held = [await connect(ws_url(doomed), additional_headers=headers, open_timeout=10) for _ in range(2)]
    for socket in held:
        assert (await frame(socket))["type"] == "ready"
    assert not await admitted(survivor, headers)  # the user's two slots are taken, across instances
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait(timeout=10)
    # Bounded well under the 60 s lease the slots would otherwise hold: liveness (10 s) and some room.
    deadline = time.monotonic() + 30
    while not await admitted(survivor, headers):
        assert time.monotonic() < deadline, "the killed instance's sockets still count"
        await asyncio.sleep(1)
    async with chat_socket(survivor, headers) as one, chat_socket(survivor, headers) as two:
        assert (await frame(one))["type"] == "ready"
        assert (await frame(two))["type"] == "ready"
        async with chat_socket(survivor, headers) as three:
            assert await close_code(three) == 4429  # the limit still holds for live sockets
    for socket in held:
        await socket.close()
