"""The gateway's SSE relay (src/interfaces/http/openai/streaming.py) on the chat fakes: the events in
OpenAI's shape, and a charge exactly once whether the stream ends, fails, the client hangs up, or the
server cancels the request."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from src.application.chat.complete_chat import CompleteChat, CompleteChatCommand
from src.application.usage.ai_requests import AiRequestLimiter
from src.domain.llm.errors import ProviderUnavailable
from src.domain.llm.model import MessageRole, PromptMessage
from src.interfaces.http.openai.streaming import relay_stream
from tests.fakes.chat import Reply
from tests.unit.chat.conftest import BUDGETS, ChatWorld


class Client:
    """The ASGI side: what was sent, and a ``receive`` that reports a hang-up when told to."""

    def __init__(self, *, hang_up_after_sends: int | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.gone = asyncio.Event()
        self._hang_up_after = hang_up_after_sends

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if self._hang_up_after is not None and len(self.messages) >= self._hang_up_after:
            self.gone.set()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    @property
    def events(self) -> list[str]:
        body = b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")
        return [e.removeprefix("data: ") for e in body.decode().split("\n\n") if e]


@pytest.fixture
def world() -> ChatWorld:
    return ChatWorld()


def use_case(world: ChatWorld) -> CompleteChat:
    return CompleteChat(
        world.uow, world.model, world.catalog, limiter=AiRequestLimiter(None, {}), budgets=BUDGETS, clock=world.clock
    )


def command(world: ChatWorld) -> CompleteChatCommand:
    return CompleteChatCommand("offline/echo", (PromptMessage(MessageRole.USER, "Hi there"),))


async def test_a_stream_is_sent_in_openais_shape_and_charged_before_done(world: ChatWorld) -> None:
    client = Client()
    stream = await use_case(world).stream(world.me, command(world))
    await relay_stream(stream, client.send, client.receive, include_usage=True, parley_seconds=0.002)  # type: ignore[arg-type]
    start = client.messages[0]
    assert (start["type"], start["status"]) == ("http.response.start", 200)
    assert (b"server-timing", b"parley;dur=2.00") in start["headers"]
    events = client.events
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Hello there, friend."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 5
    assert all(c["usage"] is None for c in chunks[:-1])
    assert len({c["id"] for c in chunks}) == 1
    assert len(world.db.chat.usage) == 1


async def test_a_failure_after_the_first_chunk_ends_with_an_error_event(world: ChatWorld) -> None:
    world.model.script(Reply(fail_after=2, error=ProviderUnavailable("the provider dropped it")))
    client = Client()
    stream = await use_case(world).stream(world.me, command(world))
    await relay_stream(stream, client.send, client.receive, include_usage=False, parley_seconds=0)  # type: ignore[arg-type]
    last = json.loads(client.events[-1])
    assert last == {
        "error": {"message": "the provider dropped it", "type": "server_error", "param": None,
                  "code": "provider_unavailable"}
    }  # fmt: skip
    assert "[DONE]" not in client.events
    assert len(world.db.chat.usage) == 1


async def test_a_client_that_hangs_up_stops_the_upstream_call_and_is_charged_once(world: ChatWorld) -> None:
    world.model.script(Reply(pause_after=2))
    client = Client(hang_up_after_sends=2)  # the head and the first chunk
    stream = await use_case(world).stream(world.me, command(world))
    await asyncio.wait_for(
        relay_stream(stream, client.send, client.receive, include_usage=True, parley_seconds=0),  # type: ignore[arg-type]
        5,
    )
    assert world.model.closed == 1
    assert "[DONE]" not in client.events
    [charged] = world.db.chat.usage
    assert charged.usage.estimated
    assert (await stream.settle()).usage == charged.usage
    assert len(world.db.chat.usage) == 1


async def test_a_request_cancelled_by_the_server_is_still_charged(world: ChatWorld) -> None:
    world.model.script(Reply(pause_after=2))
    client = Client()
    stream = await use_case(world).stream(world.me, command(world))
    task = asyncio.ensure_future(
        relay_stream(stream, client.send, client.receive, include_usage=True, parley_seconds=0)  # type: ignore[arg-type]
    )
    await asyncio.wait_for(world.model.paused.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(10):
        await asyncio.sleep(0)
    assert world.model.closed == 1
    assert len(world.db.chat.usage) == 1
