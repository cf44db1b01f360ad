"""Speaking to a running Parley as a chat client would (shared by the chat e2e tests)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from httpx_sse import EventSource, ServerSentEvent, connect_sse

from tests.e2e.identity_client import bearer, register, sign_in


def chat_user(client: httpx.Client, email: str) -> dict[str, str]:
    """Register ``email``, sign in, and return the ``Authorization`` headers."""
    register(client, email)
    return bearer(sign_in(client, email)["access_token"])


def new_conversation(client: httpx.Client, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/conversations", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def messages_url(conversation_id: str) -> str:
    return f"/api/v1/conversations/{conversation_id}/messages"


@contextmanager
def sse(client: httpx.Client, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> Iterator[EventSource]:
    # A copy: connect_sse writes its Accept header into the dict it is given.
    with connect_sse(client, method, url, headers=dict(headers), **kwargs) as source:
        assert source.response.status_code == 200, source.response.read()
        yield source


def send_streamed(
    client: httpx.Client, headers: dict[str, str], conversation_id: str, content: str
) -> list[ServerSentEvent]:
    with sse(client, "POST", messages_url(conversation_id), headers, json={"content": content}) as source:
        return list(source.iter_sse())


def send(client: httpx.Client, headers: dict[str, str], conversation_id: str, content: str) -> dict[str, Any]:
    response = client.post(messages_url(conversation_id), json={"content": content}, headers=headers)
    assert response.status_code == 201, response.text
    sent: dict[str, Any] = response.json()
    return sent


def wait_for(check: Any, *, timeout: float = 15, every: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something truthy (and return it), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout} s")
        time.sleep(every)


def message(
    client: httpx.Client, headers: dict[str, str], conversation_id: str, message_id: str
) -> dict[str, Any] | None:
    """The message ``message_id`` from the conversation's first page."""
    page = client.get(messages_url(conversation_id), params={"limit": 200}, headers=headers).json()
    return next((m for m in page["items"] if m["id"] == message_id), None)


def stored_when_complete(
    client: httpx.Client, headers: dict[str, str], conversation_id: str, message_id: str
) -> dict[str, Any]:
    def complete() -> dict[str, Any] | None:
        found = message(client, headers, conversation_id, message_id)
        return found if found is not None and found["status"] == "complete" else None

    stored: dict[str, Any] = wait_for(complete)
    return stored
