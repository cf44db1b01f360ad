"""`parley chat`'s session logic without a terminal: what it prints, and Ctrl-C at every moment of a send."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from src.application.chat.ports import ReplyEvent
from src.application.chat.send_message import SendMessageCommand
from src.application.chat.stop_reply import StopReplyCommand
from src.domain.chat.errors import ReplyInProgress, ReplyNotInProgress
from src.domain.identity.model import Principal
from src.domain.usage.errors import BudgetExceeded
from src.interfaces.cli.terminal.screen import Screen, describe_error, reply_note
from src.interfaces.cli.terminal.session import ChatSession

DONE = {
    "model": "offline/echo",
    "finish_reason": "stop",
    "usage": {"input_tokens": 12, "output_tokens": 4, "estimated": False},
    "cost_micros": 1250,
    "latency_ms": 210,
}


def test_the_note_under_a_reply_says_how_it_ended_and_what_it_cost() -> None:
    assert reply_note(DONE) == "[offline/echo · 12 in / 4 out tokens · $0.00125 · 0.21 s]"
    stopped = {**DONE, "finish_reason": "cancelled", "usage": {**DONE["usage"], "estimated": True}}  # type: ignore[dict-item]
    assert reply_note(stopped) == "[stopped · offline/echo · ~12 in / ~4 out tokens · $0.00125 · 0.21 s]"
    cut = {**DONE, "finish_reason": "length", "usage": None, "cost_micros": 0, "latency_ms": None}
    assert reply_note(cut) == "[cut off at the model's output limit · offline/echo · $0.00]"


def test_an_error_line_has_its_title_and_detail_once() -> None:
    assert describe_error(ReplyInProgress()) == "A reply is already being generated in this conversation"
    budget = BudgetExceeded("you spent $5.00 of your $5.00 monthly budget")
    assert describe_error(budget) == "Monthly budget exceeded: you spent $5.00 of your $5.00 monthly budget"


@dataclass
class Handle:
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    created_conversation: bool
    text: tuple[str, ...]
    after: list[int] = field(default_factory=list)

    async def _events(self) -> AsyncIterator[ReplyEvent]:
        for n, piece in enumerate(self.text, start=2):
            yield ReplyEvent(n, "delta", {"text": piece})
        yield ReplyEvent(len(self.text) + 2, "done", DONE)

    def events(self, after: int = 0) -> AsyncIterator[ReplyEvent]:
        self.after.append(after)
        return self._events()

    async def outcome(self) -> None:
        return None


@dataclass
class UseCases:
    """The two use cases a send touches; ``during_send`` runs while SendMessage is in flight."""

    handle: Handle
    during_send: Any = None
    sent: list[SendMessageCommand] = field(default_factory=list)
    stops: list[StopReplyCommand] = field(default_factory=list)
    stop_error: Exception | None = None

    async def send_message(self, principal: Principal, command: SendMessageCommand) -> Handle:
        self.sent.append(command)
        if self.during_send is not None:
            await self.during_send()
        return self.handle

    async def stop_reply(self, principal: Principal, command: StopReplyCommand) -> None:
        self.stops.append(command)
        if self.stop_error is not None:
            raise self.stop_error


def session_over(use_cases: UseCases) -> ChatSession:
    principal = Principal(user_id=uuid.uuid4(), email="ada@example.com", role="creator", tier="free")  # type: ignore[arg-type]
    return ChatSession(SimpleNamespace(chat=use_cases), principal, Screen())


async def test_a_send_streams_the_reply_and_keeps_the_new_conversation(capsys: pytest.CaptureFixture[str]) -> None:
    handle = Handle(uuid.uuid4(), uuid.uuid4(), created_conversation=True, text=("Hello", " there"))
    use_cases = UseCases(handle)
    session = session_over(use_cases)

    assert await session.send("Hello there")
    assert await session.send("again")

    out = capsys.readouterr().out
    assert out.startswith(f"[new conversation {handle.conversation_id}]\nHello there\n[offline/echo · 12 in")
    assert handle.after == [1, 1], "the user's own message (event 1) is not printed back"
    first, second = use_cases.sent
    assert first.conversation_id is None
    assert second.conversation_id == handle.conversation_id
    assert use_cases.stops == []


async def test_ctrl_c_while_the_message_is_being_sent_stops_the_reply_once_it_has_an_id() -> None:
    handle = Handle(uuid.uuid4(), uuid.uuid4(), created_conversation=False, text=("Hi",))
    use_cases = UseCases(handle)
    session = session_over(use_cases)
    use_cases.during_send = session.stop  # Ctrl-C before SendMessage returned: no reply to name yet

    await session.send("hello")

    (stop,) = use_cases.stops
    assert (stop.conversation_id, stop.message_id) == (handle.conversation_id, handle.message_id)


async def test_a_stop_that_comes_too_late_is_no_error_and_never_stops_the_next_reply(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handle = Handle(uuid.uuid4(), uuid.uuid4(), created_conversation=False, text=("Hi",))
    use_cases = UseCases(handle, stop_error=ReplyNotInProgress("this reply has already ended"))
    session = session_over(use_cases)
    use_cases.during_send = session.stop

    assert await session.send("hello"), "the reply ended before the stop reached it: shown in full"
    assert len(use_cases.stops) == 1
    assert capsys.readouterr().err == ""

    await session.stop()  # between replies: nothing to stop
    use_cases.during_send = None
    assert await session.send("next")
    assert len(use_cases.stops) == 1
