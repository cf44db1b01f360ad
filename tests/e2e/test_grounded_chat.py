"""Grounded chat through a real uvicorn with the offline echo model: the echo repeats the user's
message, so a message holding ``[1]`` is a reply citing passage 1. Over SSE, the WebSocket and the
terminal chat, on the embedded defaults (SQLite)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.chat_client import chat_user, messages_url, new_conversation, send, send_streamed
from tests.e2e.conftest import PARLEY, RunCli
from tests.e2e.identity_client import serve
from tests.e2e.test_ws_chat import chat_socket, frame, until
from tests.e2e.test_ws_chat import send as ws_send

pytestmark = pytest.mark.e2e

ADA = "ada.grounded@example.com"


def article(client: httpx.Client, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/articles", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def patch(client: httpx.Client, headers: dict[str, str], conversation_id: str, body: Any) -> dict[str, Any]:
    response = client.patch(f"/api/v1/conversations/{conversation_id}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    changed: dict[str, Any] = response.json()
    return changed


async def test_grounded_replies_carry_their_citations_everywhere(
    run_cli: RunCli, start_server: Any, cli_env: dict[str, str], tmp_path: Path
) -> None:
    server = serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="0")
    with httpx.Client(base_url=server.base_url, timeout=20) as client:
        ada = chat_user(client, ADA)
        bob = chat_user(client, "bob.grounded@example.com")
        pasta = article(client, ada, title="Pasta", body="Salt the pasta water well before boiling.", tags=["food"])
        sailing = article(client, ada, title="Sailing", body="Sea water is salty; sailors know.", tags=["travel"])
        bobs = [
            article(client, bob, title="Bob's pasta", body="Bob's private pasta water."),
            article(
                client,
                bob,
                title="Bob's public pasta",
                body="Bob's published pasta water.",
                status="published",
                visibility="public",
            ),
        ]
        conversation = new_conversation(client, ada, knowledge=True, title="Kitchen")
        assert conversation["grounding"] == {"knowledge": True}

        # SSE: the `done` event is the stored message, citations included.
        events = send_streamed(client, ada, conversation["id"], "How much salt in pasta water? [1]")
        assert events[-1].event == "done"
        done = events[-1].json()
        assert done["content"] == "How much salt in pasta water? [1]"
        citations = done["citations"]
        assert citations[0] == {
            "n": 1,
            "kind": "article",
            "id": pasta["id"],
            "title": "Pasta",
            "snippet": "<mark>Salt</mark> the <mark>pasta</mark> <mark>water</mark> well before boiling.",
            "cited": True,
        }
        assert {c["id"] for c in citations} == {pasta["id"], sailing["id"]}  # Sailing: "water"
        assert [c["cited"] for c in citations] == [True, False]
        for theirs in bobs:  # another user's articles, private or public, never ground Ada's replies
            assert theirs["id"] not in json.dumps(done)
        page = client.get(messages_url(conversation["id"]), headers=ada).json()
        assert page["items"][0] == done

        # A message that matches nothing: no passages.
        assert send(client, ada, conversation["id"], "zebra quixotic")["assistant_message"]["citations"] == []

        # Narrowed to a tag, then off, then on again.
        patch(client, ada, conversation["id"], {"knowledge": ["travel"]})
        travel = send(client, ada, conversation["id"], "salty water [1]")["assistant_message"]
        assert [(c["id"], c["cited"]) for c in travel["citations"]] == [(sailing["id"], True)]
        assert patch(client, ada, conversation["id"], {"grounding": None})["grounding"] is None
        assert send(client, ada, conversation["id"], "salty pasta water")["assistant_message"]["citations"] == []
        patch(client, ada, conversation["id"], {"knowledge": ["food"]})

        # The WebSocket `done` frame carries the message with its citations.
        async with chat_socket(server, ada) as socket:
            assert (await frame(socket))["type"] == "ready"
            await ws_send(socket, content="pasta water [1]", conversation_id=conversation["id"], client_id="g1")
            ack = (await until(socket, "ack"))[-1]
            socket_done = (await until(socket, "done", message_id=ack["message_id"]))[-1]["message"]
        assert [(c["id"], c["cited"]) for c in socket_done["citations"]] == [(pasta["id"], True)]

        # Exports list each reply's sources.
        markdown = client.get(
            f"/api/v1/conversations/{conversation['id']}/export", params={"format": "markdown"}, headers=ada
        )
        assert "Sources:\n\n- [1] Pasta (article)\n- [2] Sailing (article) (not cited)\n" in markdown.text

    # The terminal chat gets the same grounding, and names the sources under the reply.
    chatted = subprocess.run(
        [PARLEY, "chat", "--user", ADA, "--conversation", conversation["id"]],
        env={**cli_env, "OFFLINE_TOKEN_DELAY_MS": "0"},
        input="boiling pasta water [1]\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert chatted.returncode == 0, chatted.stderr
    assert "[sources: [1] Pasta]" in chatted.stdout.splitlines()
