"""Signing out really signs out: access tokens of an ended session, and open WebSockets, on every
instance (issue 21, "Sessions"), through real uvicorn processes and a real WebSocket client."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.chat_client import messages_url, new_conversation
from tests.e2e.conftest import RunCli
from tests.e2e.identity_client import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    NEW_PASSWORD,
    PASSWORD,
    bearer,
    me,
    register,
    serve,
    sign_in,
)
from tests.e2e.test_ws_chat import chat_socket, close_code, frame

pytestmark = pytest.mark.e2e


async def ping(socket: Any) -> None:
    """The socket is open and served: a ping gets its pong."""
    await socket.send(json.dumps({"type": "ping", "data": "still there?"}))
    assert (await frame(socket))["type"] == "pong"


async def read_until_closed(socket: Any, seen: list[str]) -> None:
    while True:
        seen.append(json.dumps(await frame(socket, timeout=10)))


async def test_ending_a_session_ends_its_tokens_and_sockets_on_every_instance(
    run_cli: RunCli, start_server: Any, postgres_url: str, redis_url: str
) -> None:
    shared = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "OFFLINE_TOKEN_DELAY_MS": "0"}
    migrated = run_cli("db", "upgrade", env=shared)
    assert migrated.code == 0, migrated.stderr
    first = serve(run_cli, start_server, **shared)
    second = serve(run_cli, start_server, **shared)
    with (
        httpx.Client(base_url=first.base_url, timeout=15) as one,
        httpx.Client(base_url=second.base_url, timeout=15) as two,
    ):
        register(one, "ada@example.com")
        laptop, phone = sign_in(one, "ada@example.com"), sign_in(one, "ada@example.com")
        key = one.post("/api/v1/api-keys", json={"name": "script"}, headers=bearer(laptop["access_token"]))
        assert key.status_code == 201, key.text
        api_key = key.json()["key"]
        async with (
            chat_socket(second, bearer(laptop["access_token"])) as laptop_socket,
            chat_socket(second, bearer(phone["access_token"])) as phone_socket,
            chat_socket(first, bearer(api_key)) as script_socket,
        ):
            for socket in (laptop_socket, phone_socket, script_socket):
                assert (await frame(socket))["type"] == "ready"
            assert me(two, laptop["access_token"]).status_code == 200  # cached on the second instance

            # The laptop signs out on the first instance: its access token and socket end on the second.
            out = one.post(
                "/api/v1/auth/logout",
                json={"refresh_token": laptop["refresh_token"]},
                headers=bearer(laptop["access_token"]),
            )
            assert out.status_code == 204, out.text
            assert await close_code(laptop_socket) == 4401
            for client in (one, two):
                refused = me(client, laptop["access_token"])
                assert (refused.status_code, refused.json()["code"]) == (401, "session_revoked")
                created = client.post("/api/v1/api-keys", json={"name": "x"}, headers=bearer(laptop["access_token"]))
                assert created.status_code == 401
            # The phone's session is another one: it goes on.
            await ping(phone_socket)
            assert me(two, phone["access_token"]).status_code == 200

            # Signing out everywhere ends the phone too; an API key is not a session and stays.
            everywhere = one.post("/api/v1/auth/logout-all", headers=bearer(phone["access_token"]))
            assert everywhere.status_code == 200, everywhere.text
            assert await close_code(phone_socket) == 4401
            assert me(two, phone["access_token"]).status_code == 401
            await ping(script_socket)
            assert me(two, api_key).status_code == 200

            # ... unless the caller asks for the keys to go too.
            fresh = sign_in(two, "ada@example.com")
            revoked = two.post(
                "/api/v1/auth/logout-all", json={"revoke_api_keys": True}, headers=bearer(fresh["access_token"])
            )
            assert revoked.status_code == 200, revoked.text
            assert await close_code(script_socket) == 4401
            assert me(one, api_key).status_code == 401


async def test_a_socket_opened_before_a_sign_out_gets_none_of_the_replies_after_it(
    run_cli: RunCli, start_server: Any
) -> None:
    server = serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="0")
    with httpx.Client(base_url=server.base_url, timeout=15) as client:
        register(client, "ada@example.com")
        old = sign_in(client, "ada@example.com")
        async with chat_socket(server, bearer(old["access_token"])) as socket:
            assert (await frame(socket))["type"] == "ready"
            client.post("/api/v1/auth/logout-all", headers=bearer(old["access_token"])).raise_for_status()
            new = bearer(sign_in(client, "ada@example.com")["access_token"])
            conversation = new_conversation(client, new)
            sent = client.post(messages_url(conversation["id"]), json={"content": "private words"}, headers=new)
            assert sent.status_code == 201, sent.text
            seen: list[str] = []
            with pytest.raises(ConnectionClosed) as closed:
                await read_until_closed(socket, seen)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4401
            assert not any("private words" in line for line in seen), seen


@pytest.mark.parametrize("ending", ["password", "deactivate", "admin_deactivates"])
async def test_a_password_change_or_a_deactivation_closes_open_sockets(
    run_cli: RunCli, start_server: Any, ending: str
) -> None:
    server = serve(run_cli, start_server)
    with httpx.Client(base_url=server.base_url, timeout=15) as client:
        creator = register(client, "ada@example.com")
        session = sign_in(client, "ada@example.com")
        headers = bearer(session["access_token"])
        async with chat_socket(server, headers) as socket:
            assert (await frame(socket))["type"] == "ready"
            if ending == "password":
                changed = client.post(
                    "/api/v1/users/me/password",
                    json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                    headers=headers,
                )
                assert changed.status_code == 204, changed.text
            elif ending == "deactivate":
                assert client.delete("/api/v1/users/me", headers=headers).status_code == 204
            else:
                admin = bearer(sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"])
                off = client.patch(f"/api/v1/admin/users/{creator['id']}", json={"is_active": False}, headers=admin)
                assert off.status_code == 200, off.text
            assert await close_code(socket) == 4401


def test_the_same_password_is_refused_and_signs_nobody_out(run_cli: RunCli, start_server: Any) -> None:
    server = serve(run_cli, start_server)
    with httpx.Client(base_url=server.base_url, timeout=15) as client:
        register(client, "ada@example.com")
        other = sign_in(client, "ada@example.com")
        session = sign_in(client, "ada@example.com")
        same = client.post(
            "/api/v1/users/me/password",
            json={"current_password": PASSWORD, "new_password": PASSWORD},
            headers=bearer(session["access_token"]),
        )
        assert (same.status_code, same.json()["code"]) == (422, "password_unchanged")
        assert same.headers["content-type"].startswith("application/problem+json")
        assert me(client, other["access_token"]).status_code == 200
        assert me(client, session["access_token"]).status_code == 200


def test_staff_cannot_change_their_own_tier_or_budget(run_cli: RunCli, start_server: Any) -> None:
    server = serve(run_cli, start_server)
    with httpx.Client(base_url=server.base_url, timeout=15) as client:
        admin = bearer(sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"])
        mine = client.get("/api/v1/users/me", headers=admin).json()
        tier = client.patch(f"/api/v1/admin/users/{mine['id']}", json={"tier": "pro"}, headers=admin)
        assert (tier.status_code, tier.json()["code"]) == (409, "cannot_change_own_access")
        budget = client.put(f"/api/v1/admin/users/{mine['id']}/budget", json={"monthly_usd": "1000"}, headers=admin)
        assert (budget.status_code, budget.json()["code"]) == (409, "cannot_change_own_access")
        assert client.get("/api/v1/users/me", headers=admin).json()["tier"] == mine["tier"]
        # Another user's tier is an admin's to change.
        creator = register(client, "ada@example.com")
        other = client.patch(f"/api/v1/admin/users/{creator['id']}", json={"tier": "pro"}, headers=admin)
        assert other.status_code == 200, other.text
