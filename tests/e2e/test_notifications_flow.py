"""Notifications end to end: a real uvicorn, a real WebSocket client, a real SSE reader, a real SMTP
server (aiosmtpd) and the `parley` CLI, all on one SQLite database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.e2e.conftest import RunCli
from tests.e2e.identity_client import NEW_PASSWORD, PASSWORD, bearer, register, serve, sign_in
from tests.smtp_server import SmtpServer, smtp_server

pytestmark = pytest.mark.e2e


def wait_for_types(
    client: httpx.Client, headers: dict[str, str], *types: str, timeout: float = 20
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        items: list[dict[str, Any]] = client.get("/api/v1/notifications", headers=headers).json()["items"]
        if all(t in [i["type"] for i in items] for t in types):
            return items
        assert time.monotonic() < deadline, f"no {types} notification; got {[i['type'] for i in items]}"
        time.sleep(0.05)


def wait_for_mail(server: SmtpServer, subject: str, timeout: float = 20) -> tuple[list[str], Any]:
    """(recipients, message) of the first mail whose subject holds ``subject``.

    By subject, not by position: the digest job runs at every minute boundary, so a digest of the
    waiting announcement and welcome mails may arrive in between whenever a test straddles one.
    """
    deadline = time.monotonic() + timeout
    while True:
        for _, rcpt, message in list(server.handler.received):
            if subject in message["Subject"]:
                return rcpt, message
        subjects = [m["Subject"] for _, _, m in server.handler.received]
        assert time.monotonic() < deadline, f"no mail about {subject!r} among {subjects}"
        time.sleep(0.05)


async def sse_events(response: httpx.Response) -> AsyncGenerator[tuple[str, dict[str, Any], str], None]:
    """(event, data, id) of each server-sent event."""
    event, data, event_id = "message", "", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line.startswith("id: "):
            event_id = line[4:]
        elif line == "" and data:
            yield event, json.loads(data), event_id
            event, data, event_id = "message", "", ""


async def ws_notification(socket: ClientConnection, kind: str, timeout: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await socket.recv())
            if frame["type"] == "notification" and frame["notification"]["type"] == kind:
                notification: dict[str, Any] = frame["notification"]
                return notification


async def test_inbox_live_push_sse_catch_up_mail_and_broadcast(run_cli: RunCli, start_server: Any) -> None:
    with smtp_server() as mail_server:
        env = {"SMTP_URL": mail_server.url, "MAIL_FROM": "Parley <parley@example.com>", "OUTBOX_RELAY_INTERVAL": "0.05"}
        server = serve(run_cli, start_server, **env)
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            register(client, "ada@example.com", name="Ada")
            session = sign_in(client, "ada@example.com")
            headers = bearer(session["access_token"])
            (welcome,) = wait_for_types(client, headers, "welcome")
            # Security notices go out by mail at once: an API key created while no client listens ...
            assert client.post("/api/v1/api-keys", json={"name": "laptop"}, headers=headers).status_code == 201
            wait_for_types(client, headers, "api_key_created")
            rcpt, mail = wait_for_mail(mail_server, "New API key")
            assert rcpt == ["ada@example.com"]
            assert mail["Subject"] == "[Parley] New API key 'laptop'"
            assert "List-Unsubscribe" not in mail  # security mail cannot be turned off

            ws_url = server.base_url.replace("http://", "ws://") + "/api/v1/ws/chat"
            async with (
                httpx.AsyncClient(base_url=server.base_url, timeout=30) as reader,
                reader.stream(
                    "GET", "/api/v1/notifications/stream", params={"after": welcome["id"]}, headers=headers
                ) as stream,
                connect(ws_url, additional_headers=headers, open_timeout=10) as socket,
            ):
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                assert json.loads(await socket.recv())["type"] == "ready"
                events = sse_events(stream)
                # ... is what a reconnecting stream catches up on (after the welcome it already had).
                kind, data, event_id = await asyncio.wait_for(anext(events), 10)
                assert (kind, data["type"], event_id) == ("notification", "api_key_created", data["id"])

                # An announcement from the CLI: the running server fans it out and pushes it live.
                sent = await asyncio.to_thread(
                    run_cli,
                    "notifications",
                    "broadcast",
                    "--title",
                    "Maintenance",
                    "--body",
                    "Tonight.",
                    "--audience",
                    "all",
                )
                assert sent.code == 0, sent.stderr
                pushed = await ws_notification(socket, "announcement", timeout=15)
                assert pushed["title"] == "Maintenance"
                assert pushed["category"] == "announcements"
                kind, data, _ = await asyncio.wait_for(anext(events), 10)
                assert (kind, data["id"], data["body"]) == ("notification", pushed["id"], "Tonight.")

                # A password change: live on both, within well under a second of the commit.
                started = time.monotonic()
                changed = await reader.post(
                    "/api/v1/users/me/password",
                    json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                    headers=headers,
                )
                assert changed.status_code == 204, changed.text
                kind, data, _ = await asyncio.wait_for(anext(events), 10)
                assert data["type"] == "password_changed"
                assert data["category"] == "security"
                assert time.monotonic() - started < 5
                await events.aclose()

            rcpt, _ = wait_for_mail(mail_server, "Your password was changed")
            assert rcpt == ["ada@example.com"]
            headers = bearer(sign_in(client, "ada@example.com", NEW_PASSWORD)["access_token"])
            page = client.get("/api/v1/notifications", params={"unread": "true"}, headers=headers).json()
            assert page["unread_count"] == 4
            assert [i["type"] for i in page["items"]] == [
                "password_changed",
                "announcement",
                "api_key_created",
                "welcome",
            ]

        listed = run_cli("mail", "list")
        assert listed.code == 0, listed.stderr
        # Ada's two security mails (at least once each: a retried handler sends again rather than
        # never); the announcement's digests (to Ada and the admin) only if a minute boundary passed
        # since the broadcast (the digest job runs on the minute).
        lines = listed.stdout.strip().splitlines()
        security = [line for line in lines if line.split()[3] == "security"]
        assert all(line.split()[4] == "ada@example.com" for line in security), lines
        assert {line.split("[Parley] ", 1)[1] for line in security} == {
            "Your password was changed",
            "New API key 'laptop'",
        }, lines
        digests = [line for line in lines if line not in security]
        assert all(line.split()[3] == "announcements" and line.endswith("Maintenance") for line in digests), lines
        assert "Your password was changed" in security[0]
        shown = run_cli("mail", "show", security[-1].split()[0])
        assert shown.code == 0, shown.stderr
        assert "Subject: [Parley] New API key 'laptop'" in shown.stdout
        assert "Transport: smtp" in shown.stdout
        assert "cannot be turned off" in shown.stdout
