"""Chat through a real uvicorn with real HTTP and SSE clients: streaming, disconnects, stops, the reply
lock, context windows, budgets, titles, exports, and resuming a stream on another instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.chat_client import (
    chat_user,
    message,
    messages_url,
    new_conversation,
    send,
    sse,
    stored_when_complete,
    wait_for,
)
from tests.e2e.conftest import RunCli, Server
from tests.e2e.identity_client import ADMIN_EMAIL, ADMIN_PASSWORD, bearer, serve, sign_in

pytestmark = pytest.mark.e2e

LONG = " ".join(f"word{i}" for i in range(60))


def client_for(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=20)


def test_a_reply_streams_over_sse_and_is_stored(run_cli: RunCli, start_server: Any) -> None:
    with client_for(serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="2")) as client:
        headers = chat_user(client, "streamer@example.com")
        conversation = new_conversation(client, headers)
        with sse(
            client, "POST", messages_url(conversation["id"]), headers, json={"content": "Hello, streaming world"}
        ) as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            assert source.response.headers["cache-control"] == "no-cache"
            assert source.response.headers["x-accel-buffering"] == "no"
            events = list(source.iter_sse())

        assert [e.event for e in events][:2] == ["message", "delta"]
        assert events[-1].event == "done"
        assert [int(e.id) for e in events] == list(range(1, len(events) + 1))
        user_message = events[0].json()
        done = events[-1].json()
        assert user_message["content"] == "Hello, streaming world"
        assert user_message["role"] == "user"
        assert (
            "".join(e.json()["text"] for e in events if e.event == "delta")
            == done["content"]
            == "Hello, streaming world"
        )
        assert done["finish_reason"] == "stop"
        assert done["model"] == "offline/echo"
        assert done["usage"]["output_tokens"] == 4
        assert done["usage"]["estimated"] is False
        assert done["ttft_ms"] is not None
        assert done["latency_ms"] >= done["ttft_ms"]

        page = client.get(messages_url(conversation["id"]), headers=headers).json()
        assert [m["id"] for m in page["items"]] == [done["id"], user_message["id"]]
        assert page["items"][0] == done  # the stream's `done` is the stored message, field for field

        sent = send(client, headers, conversation["id"], "And now as JSON")
        assert sent["user_message"]["content"] == "And now as JSON"
        assert sent["assistant_message"]["content"] == "And now as JSON"
        refused = client.post(
            messages_url(conversation["id"]), json={"content": "x"}, headers={**headers, "Accept": "text/html"}
        )
        assert refused.status_code == 406


def test_heartbeat_comments_keep_a_quiet_stream_alive(run_cli: RunCli, start_server: Any) -> None:
    server = serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="300", SSE_HEARTBEAT_SECONDS="0.1")
    with client_for(server) as client:
        headers = chat_user(client, "quiet@example.com")
        conversation = new_conversation(client, headers)
        lines = []
        with client.stream(
            "POST",
            messages_url(conversation["id"]),
            json={"content": "slow one"},
            headers={**headers, "Accept": "text/event-stream"},
        ) as response:
            for line in response.iter_lines():
                lines.append(line)
                if line.startswith("event: done"):
                    break
    assert ": heartbeat" in lines
    assert lines.index(": heartbeat") < lines.index("event: delta")


def test_a_client_that_disconnects_does_not_stop_the_reply(run_cli: RunCli, start_server: Any) -> None:
    with client_for(serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="20")) as client:
        headers = chat_user(client, "leaver@example.com")
        conversation = new_conversation(client, headers)
        with sse(client, "POST", messages_url(conversation["id"]), headers, json={"content": LONG}) as source:
            seen = []
            for event in source.iter_sse():
                seen.append(event)
                if len(seen) == 4:
                    break  # and the connection closes: the tab went away
        reply_id = None
        page = client.get(messages_url(conversation["id"]), headers=headers).json()
        reply_id = next(m["id"] for m in page["items"] if m["role"] == "assistant")
        stored = stored_when_complete(client, headers, conversation["id"], reply_id)
        assert stored["content"] == LONG
        assert stored["finish_reason"] == "stop"
        assert stored["usage"]["output_tokens"] == 60
        usage = client.get("/api/v1/usage", headers=headers).json()
        assert usage["totals"]["requests"] == 1  # charged once
        assert usage["totals"]["output_tokens"] == 60


def test_another_client_can_stop_a_reply_and_a_second_send_waits_its_turn(run_cli: RunCli, start_server: Any) -> None:
    server = serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="40")
    with client_for(server) as client, client_for(server) as other_tab:
        headers = chat_user(client, "stopper@example.com")
        conversation = new_conversation(client, headers)
        with sse(client, "POST", messages_url(conversation["id"]), headers, json={"content": LONG}) as source:
            events = source.iter_sse()
            first = next(events)
            reply_id = None
            deltas = []
            for event in events:
                if event.event == "delta":
                    deltas.append(event)
                if len(deltas) == 3:
                    break
            busy = other_tab.post(messages_url(conversation["id"]), json={"content": "me too"}, headers=headers)
            assert busy.status_code == 409, busy.text
            assert busy.json()["code"] == "reply_in_progress"
            reply_id = busy.json()["message_id"]
            stop = other_tab.post(f"{messages_url(conversation['id'])}/{reply_id}/stop", headers=headers)
            assert stop.status_code == 202
            assert stop.json() == {"message_id": reply_id, "status": "stopping"}
            rest = list(events)
        assert first.event == "message"
        assert rest[-1].event == "done"
        done = rest[-1].json()
        assert done["finish_reason"] == "cancelled"
        assert done["id"] == reply_id
        assert LONG.startswith(done["content"])
        assert 0 < len(done["content"]) < len(LONG)
        again = other_tab.post(f"{messages_url(conversation['id'])}/{reply_id}/stop", headers=headers)
        assert again.status_code == 409
        assert again.json()["code"] == "reply_not_in_progress"
        assert send(client, headers, conversation["id"], "my turn now")["assistant_message"]["content"] == "my turn now"


CATALOG = """
[[models]]
id = "offline/echo"
display_name = "Echo with a tiny window and a price"
context_window = 120
max_output_tokens = 40
input = 1000.0
output = 1000.0
capabilities = ["streaming", "offline"]

[[models]]
id = "offline/lorem"
display_name = "Lorem"
context_window = 8192
max_output_tokens = 2048
"""


@pytest.fixture
def small_priced_catalog(tmp_path: Path) -> str:
    path = tmp_path / "models.toml"
    path.write_text(CATALOG)
    return str(path)


def test_only_the_latest_messages_that_fit_reach_the_model(
    run_cli: RunCli, start_server: Any, small_priced_catalog: str
) -> None:
    server = serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="0", MODEL_CATALOG_PATH=small_priced_catalog)
    with client_for(server) as client:
        headers = chat_user(client, "long.talker@example.com")
        conversation = new_conversation(client, headers)
        sent_words = 0
        for i in range(12):
            content = f"message number {i} has exactly eight words"
            sent_words += 2 * len(content.split())  # the question and its echo
            reply = send(client, headers, conversation["id"], content)["assistant_message"]
        # The model saw at most what fits 120 - 40 tokens, not the whole history.
        assert reply["usage"]["input_tokens"] <= 80 < sent_words
        assert reply["usage"]["input_tokens"] >= 8


def test_a_long_conversation_is_capped_and_summarised_in_the_background(run_cli: RunCli, start_server: Any) -> None:
    server = serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="0", CHAT_CONTEXT_TOKENS="256")
    with client_for(server) as client:
        headers = chat_user(client, "summarised@example.com")
        conversation = new_conversation(client, headers)
        url = f"/api/v1/conversations/{conversation['id']}"
        assert (conversation["context_tokens"], conversation["summarize"], conversation["summary"]) == (
            None,
            True,
            None,
        )
        for i in range(8):
            reply = send(client, headers, conversation["id"], f"Turn {i}: the lighthouse keeper. {LONG}")
            reply = reply["assistant_message"]
        # The offline model counts what it was sent: the cap's worth, not the ~1,500 tokens so far.
        assert reply["usage"]["input_tokens"] <= 256 + 300
        summarised = wait_for(lambda: client.get(url, headers=headers).json()["summary"])
        assert "lighthouse" in summarised
        shown = client.get(url, headers=headers).json()
        assert shown["summary_through"] is not None
        refused = client.patch(url, json={"context_tokens": 10**9}, headers=headers)
        assert refused.status_code == 422
        assert refused.json()["code"] == "invalid_conversation"
        changed = client.patch(url, json={"context_tokens": 2000, "summarize": False}, headers=headers)
        assert (changed.json()["context_tokens"], changed.json()["summarize"]) == (2000, False)


def test_a_spent_budget_refuses_the_next_send_with_429(
    run_cli: RunCli, start_server: Any, small_priced_catalog: str
) -> None:
    server = serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="0", MODEL_CATALOG_PATH=small_priced_catalog)
    with client_for(server) as client:
        headers = chat_user(client, "spender@example.com")
        user_id = client.get("/api/v1/users/me", headers=headers).json()["id"]
        admin = bearer(sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"])
        budget = client.put(f"/api/v1/admin/users/{user_id}/budget", json={"monthly_usd": "0.01"}, headers=admin)
        assert budget.status_code == 200, budget.text
        assert budget.json()["budget"]["monthly_budget_micros"] == 10_000
        assert budget.json()["budget"]["custom"]
        forbidden = client.put(f"/api/v1/admin/users/{user_id}/budget", json={"monthly_usd": "100"}, headers=headers)
        assert forbidden.status_code == 403

        conversation = new_conversation(client, headers)
        first = send(client, headers, conversation["id"], "an expensive question of several words")
        assert first["assistant_message"]["cost_micros"] > 10_000
        refused = client.post(messages_url(conversation["id"]), json={"content": "one more"}, headers=headers)
        assert refused.status_code == 429, refused.text
        body = refused.json()
        assert body["code"] == "budget_exceeded"
        assert body["budget_micros"] == 10_000
        assert int(refused.headers["retry-after"]) == body["retry_after"] > 0
        streamed = client.post(
            messages_url(conversation["id"]),
            json={"content": "one more"},
            headers={**headers, "Accept": "text/event-stream"},
        )
        assert streamed.status_code == 429  # refused before any stream starts
        usage = client.get("/api/v1/usage", params={"group_by": "model"}, headers=headers).json()
        assert usage["budget"]["exceeded"]
        assert usage["items"][0]["key"] == "offline/echo"
        assert usage["totals"]["requests"] == 1


def test_the_first_reply_gets_the_conversation_a_title(run_cli: RunCli, start_server: Any) -> None:
    with client_for(serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="0")) as client:
        headers = chat_user(client, "titled@example.com")
        conversation = new_conversation(client, headers)
        assert conversation["title"] is None
        send(client, headers, conversation["id"], "How do I **bake** sourdough bread at home?")
        url = f"/api/v1/conversations/{conversation['id']}"
        titled = wait_for(lambda: client.get(url, headers=headers).json()["title"])
        assert titled == "How do I bake sourdough bread"
        found = client.get("/api/v1/conversations", params={"q": "sourdough"}, headers=headers).json()
        assert [c["id"] for c in found["items"]] == [conversation["id"]]


def test_a_conversation_is_exported_as_json_and_markdown(run_cli: RunCli, start_server: Any) -> None:
    server = serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="0")
    with client_for(server) as client:
        headers = chat_user(client, "exporter@example.com")
        conversation = new_conversation(client, headers, title="Recipes", system_prompt="Be brief.")
        send(client, headers, conversation["id"], "Bread or cake?")
        url = f"/api/v1/conversations/{conversation['id']}/export"
        as_json = client.get(url, params={"format": "json"}, headers=headers)
        assert as_json.status_code == 200
        assert (
            as_json.headers["content-disposition"] == f'attachment; filename="conversation-{conversation["id"]}.json"'
        )
        document = as_json.json()
        assert document["conversation"]["title"] == "Recipes"
        assert [m["content"] for m in document["messages"]] == ["Bread or cake?", "Bread or cake?"]
        markdown = client.get(url, params={"format": "markdown"}, headers=headers)
        assert markdown.headers["content-type"].startswith("text/markdown")
        assert markdown.text.startswith("# Recipes\n")
        assert "## You\n\nBread or cake?" in markdown.text
        assert client.get(url, params={"format": "pdf"}, headers=headers).status_code == 422

    # The operator exports it from the command line too.
    exported = run_cli("conversations", "export", conversation["id"], "--format", "markdown")
    assert exported.code == 0, exported.stderr
    assert exported.stdout.startswith("# Recipes\n")
    missing = run_cli("conversations", "export", "00000000-0000-0000-0000-000000000000")
    assert missing.code == 1
    assert "not found" in missing.stderr.lower()


def test_budgets_are_set_from_the_command_line(run_cli: RunCli, start_server: Any) -> None:
    server = serve(run_cli, start_server, OFFLINE_TOKEN_DELAY_MS="0")
    with client_for(server) as client:
        chat_user(client, "cli.budget@example.com")
    result = run_cli("users", "set-budget", "cli.budget@example.com", "12.50")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "cli.budget@example.com: $12.50 a month (own budget), $0.00 spent this month"
    back = run_cli("users", "set-budget", "cli.budget@example.com", "tier")
    assert "$5.00 a month (free tier budget)" in back.stdout
    bad = run_cli("users", "set-budget", "cli.budget@example.com", "lots")
    assert bad.code == 2
    assert "lots" in bad.stderr
    nobody = run_cli("users", "set-budget", "nobody@example.com", "1")
    assert nobody.code == 1


@pytest.mark.postgres
@pytest.mark.redis
def test_a_dropped_stream_resumes_on_another_instance_without_a_gap_or_a_repeat(
    run_cli: RunCli, start_server: Any, postgres_url: str, redis_url: str
) -> None:
    shared = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "OFFLINE_TOKEN_DELAY_MS": "30"}
    migrated = run_cli("db", "upgrade", env=shared)
    assert migrated.code == 0, migrated.stderr
    first = serve(run_cli, start_server, **shared)
    second = start_server(env={"RATE_LIMIT_ENABLED": "false", **shared})
    with client_for(first) as a, client_for(second) as b:
        headers = chat_user(a, "roamer@example.com")
        conversation = new_conversation(a, headers)
        received = []
        with sse(a, "POST", messages_url(conversation["id"]), headers, json={"content": LONG}) as source:
            for event in source.iter_sse():
                received.append(event)
                if len(received) == 10:
                    break  # the network drops
        reply_id = wait_for(
            lambda: (
                message(b, headers, conversation["id"], received[0].json()["id"])
                and next(
                    m["id"]
                    for m in b.get(messages_url(conversation["id"]), headers=headers).json()["items"]
                    if m["role"] == "assistant"
                )
            )
        )
        stream_url = f"{messages_url(conversation['id'])}/{reply_id}/stream"
        with sse(b, "GET", stream_url, {**headers, "Last-Event-ID": received[-1].id}) as source:
            resumed = list(source.iter_sse())
        events = received + resumed
        assert [int(e.id) for e in events] == list(range(1, len(events) + 1))  # none missing, none twice
        assert resumed[-1].event == "done"
        text = "".join(e.json()["text"] for e in events if e.event == "delta")
        assert text == resumed[-1].json()["content"] == LONG
        # And again from the start, from either instance, once it is over.
        with sse(a, "GET", stream_url, headers) as source:
            replayed = list(source.iter_sse())
        assert [e.id for e in replayed] == [e.id for e in events]
        assert json.loads(replayed[-1].data)["content"] == LONG


def test_a_reply_under_way_when_the_server_stops_is_stored_as_interrupted(run_cli: RunCli, start_server: Any) -> None:
    env = {"OFFLINE_TOKEN_DELAY_MS": "100", "SHUTDOWN_TIMEOUT": "1"}
    server = serve(run_cli, start_server, **env)
    with client_for(server) as client:
        headers = chat_user(client, "interrupted@example.com")
        conversation = new_conversation(client, headers)
        with sse(client, "POST", messages_url(conversation["id"]), headers, json={"content": LONG}) as source:
            for event in source.iter_sse():
                if event.event == "delta":
                    break
    server.stop()  # SIGINT: a graceful stop, with the reply still being written
    assert "replies_interrupted" in server.logs() or "replies_draining" in server.logs()

    with client_for(start_server(env={"RATE_LIMIT_ENABLED": "false", **env})) as client:
        page = client.get(messages_url(conversation["id"]), headers=headers).json()
        reply = page["items"][0]
        assert reply["role"] == "assistant"
        assert reply["status"] == "complete"
        assert (reply["finish_reason"], reply["error_code"]) == ("error", "interrupted")
        assert reply["content"]
        assert LONG.startswith(reply["content"])
        assert reply["content"] != LONG
        # The conversation is free again.
        assert send(client, headers, conversation["id"], "back again")["assistant_message"]["content"] == "back again"
