"""Issue 13, "Lost or wrong data" and "Hangs and lockouts", on real `parley serve` processes:

- an instance killed (-9) mid-reply: a reader following the reply on the other instance ends within
  the lease plus a few seconds, and the stored reply holds every word that reader saw, with the
  prompt's input tokens charged;
- a reply that ends while PostgreSQL is unreachable is stored in full once it is back, and its
  reader gets ``done``;
- Redis killed and restarted empty while a reply streams: a reader on the other instance shows every
  word (snapshots where the stream lost events), with event ids that only go up.

Every wait is bounded; nothing here asserts on speed.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent
from sqlalchemy.engine import make_url

from tests.e2e.chat_client import chat_user, messages_url, new_conversation, sse, wait_for
from tests.e2e.conftest import RunCli, Server
from tests.e2e.identity_client import NO_HTTP_LIMITS, bearer, sign_in
from tests.redis_process import RedisProcess
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

LEASE_SECONDS = 6


class Reader(threading.Thread):
    """Reads one SSE stream to its end (or until the connection breaks), keeping every event."""

    def __init__(self, base_url: str, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> None:
        super().__init__(daemon=True)
        self._args = (base_url, method, url, headers, kwargs)
        self.events: list[ServerSentEvent] = []
        self.broken: Exception | None = None

    def run(self) -> None:
        base_url, method, url, headers, kwargs = self._args
        try:
            with (
                httpx.Client(base_url=base_url, timeout=httpx.Timeout(10, read=120)) as client,
                sse(client, method, url, headers, **kwargs) as source,
            ):
                for event in source.iter_sse():
                    self.events.append(event)
        except httpx.HTTPError as exc:  # the instance was killed under it
            self.broken = exc

    def deltas(self) -> list[str]:
        return [json.loads(e.data)["text"] for e in self.events if e.event == "delta"]

    def text(self) -> str:
        return "".join(self.deltas())


def migrate(run_cli: RunCli, database_url: str) -> None:
    migrated = run_cli("db", "upgrade", env={"DATABASE_URL": database_url})
    assert migrated.code == 0, migrated.stderr


def assistant_reply(client: httpx.Client, headers: dict[str, str], conversation_id: str) -> dict[str, Any] | None:
    page = client.get(messages_url(conversation_id), params={"limit": 50}, headers=headers)
    if page.status_code != 200:
        return None
    return next((m for m in page.json()["items"] if m["role"] == "assistant"), None)


def test_a_reply_whose_instance_is_killed_keeps_every_word_its_readers_saw_and_ends_them(
    run_cli: RunCli, start_server: Callable[..., Server], postgres_url: str, redis_url: str
) -> None:
    env = {
        **NO_HTTP_LIMITS,
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "OFFLINE_TOKEN_DELAY_MS": "100",
        # The row lags the stream by up to 2 s (20 words): what recovery must not lose.
        "REPLY_FLUSH_INTERVAL_MS": "2000",
        "REPLY_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    migrate(run_cli, postgres_url)
    doomed, survivor = start_server(env=env), start_server(env=env)
    content = " ".join(f"word{i}" for i in range(300))  # 30 s of reply
    with httpx.Client(base_url=survivor.base_url, timeout=30) as client:
        headers = chat_user(client, "ada@example.com")
        conversation = new_conversation(client, headers)
        sender = Reader(doomed.base_url, "POST", messages_url(conversation["id"]), headers, json={"content": content})
        sender.start()
        reply = wait_for(lambda: assistant_reply(client, headers, conversation["id"]))
        follower = Reader(survivor.base_url, "GET", f"{messages_url(conversation['id'])}/{reply['id']}/stream", headers)
        follower.start()
        wait_for(lambda: len(follower.deltas()) >= 25, timeout=30)
        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait(timeout=10)
        # Bounded: the lease, the 2 s look at a quiet stream, and room for a loaded machine.
        follower.join(timeout=LEASE_SECONDS + 40)
        assert not follower.is_alive(), "the reader of a dead instance's reply never got an end"
        assert follower.broken is None, follower.broken
        last = follower.events[-1]
        assert last.event == "error", [e.event for e in follower.events[-3:]]
        assert json.loads(last.data)["code"] == "interrupted"
        ids = [int(e.id) for e in follower.events]
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # no gap, never backwards
        seen = follower.text()
        assert content.startswith(seen)
        stored = assistant_reply(client, headers, conversation["id"])
        assert stored is not None
        assert (stored["status"], stored["finish_reason"], stored["error_code"]) == ("complete", "error", "interrupted")
        assert stored["content"] == seen  # every word the reader saw, not the last flush
        assert stored["usage"]["estimated"] is True
        assert stored["usage"]["input_tokens"] > 0  # the prompt is charged too
        assert stored["cost_micros"] >= 0
        # The conversation is free again.
        again = client.post(messages_url(conversation["id"]), json={"content": "still there?"}, headers=headers)
        assert again.status_code == 201, again.text


def test_a_reply_that_ends_while_postgresql_is_away_is_stored_in_full_once_it_is_back(
    run_cli: RunCli,
    start_server: Callable[..., Server],
    postgres_url: str,
    tcp_proxy: Callable[[str, int], TcpProxy],
) -> None:
    migrate(run_cli, postgres_url)
    target = make_url(postgres_url)
    proxy = tcp_proxy(target.host or "127.0.0.1", target.port or 5432)
    proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    server = start_server(
        env={
            **NO_HTTP_LIMITS,
            "DATABASE_URL": proxied,
            "OFFLINE_TOKEN_DELAY_MS": "50",
            "DB_POOL_PING_AFTER_SECONDS": "0",
        }
    )
    content = " ".join(f"word{i}" for i in range(60))  # 3 s of reply
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        headers = chat_user(client, "ada@example.com")
        conversation = new_conversation(client, headers)
        reader = Reader(server.base_url, "POST", messages_url(conversation["id"]), headers, json={"content": content})
        reader.start()
        wait_for(lambda: len(reader.deltas()) >= 10, timeout=30)
        proxy.cut()  # PostgreSQL is unreachable from here until restore()
        wait_for(lambda: reader.text() == content, timeout=30)  # the model has finished: the end is due now
        # The end cannot be written yet: no terminal event while the database is away.
        threading.Event().wait(2)
        assert reader.is_alive()
        assert [e.event for e in reader.events if e.event in ("done", "error")] == []
        proxy.restore()
        reader.join(timeout=60)
        assert not reader.is_alive(), "the reply never ended after the database came back"
        last = reader.events[-1]
        assert last.event == "done", last.data
        assert json.loads(last.data)["content"] == content
        token = sign_in(client, "ada@example.com")["access_token"]
        stored = assistant_reply(client, bearer(token), conversation["id"])
        assert stored is not None
        assert (stored["status"], stored["finish_reason"], stored["content"]) == ("complete", "stop", content)


def shown_text(events: list[ServerSentEvent]) -> str:
    """What a client shows: deltas appended, a snapshot replacing everything before it."""
    text = ""
    for event in events:
        if event.event == "delta":
            text += json.loads(event.data)["text"]
        elif event.event == "snapshot":
            text = json.loads(event.data)["text"]
    return text


def test_a_reader_on_another_instance_misses_nothing_when_redis_comes_back_empty(
    run_cli: RunCli, start_server: Callable[..., Server], postgres_url: str, tmp_path: Path
) -> None:
    redis = RedisProcess(tmp_path)
    redis.start()
    try:
        env = {
            **NO_HTTP_LIMITS,
            "DATABASE_URL": postgres_url,
            "REDIS_URL": redis.url,
            "OFFLINE_TOKEN_DELAY_MS": "100",
            "REDIS_BREAKER_RESET_SECONDS": "1",
        }
        migrate(run_cli, postgres_url)
        writer, other = start_server(env=env), start_server(env=env)
        content = " ".join(f"word{i}" for i in range(200))  # 20 s of reply
        with httpx.Client(base_url=other.base_url, timeout=30) as client:
            headers = chat_user(client, "ada@example.com")
            conversation = new_conversation(client, headers)
            sender = Reader(
                writer.base_url, "POST", messages_url(conversation["id"]), headers, json={"content": content}
            )
            sender.start()
            reply = wait_for(lambda: assistant_reply(client, headers, conversation["id"]))
            url = f"{messages_url(conversation['id'])}/{reply['id']}/stream"
            follower = Reader(other.base_url, "GET", url, headers)
            follower.start()
            wait_for(lambda: len(follower.deltas()) >= 20, timeout=30)
            redis.kill()  # every reply stream goes with it
            wait_for(lambda: len(sender.deltas()) >= 50, timeout=30)
            redis.start()  # back, empty
            sender.join(timeout=60)
            follower.join(timeout=60)
            assert not follower.is_alive(), "the reader never got the end of the reply"
            assert follower.broken is None, follower.broken
            assert follower.events[-1].event == "done", follower.events[-1].data
            ids = [int(e.id) for e in follower.events]
            assert ids == sorted(set(ids)), "event ids went backwards or repeated"
            assert shown_text(follower.events) == content  # no word skipped
            # A reader arriving now, from where the first one was when Redis went away, too.
            late = Reader(other.base_url, "GET", url, {**headers, "Last-Event-ID": "21"})
            late.start()
            late.join(timeout=60)
            assert late.events[-1].event == "done"
            assert json.loads(late.events[-1].data)["content"] == content
    finally:
        redis.stop()
