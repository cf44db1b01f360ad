"""SendMessage and the reply it starts: streaming, storing, charging, failing, stopping."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any

import pytest

from src.application.chat.ports import ReplyEvent, ReplyStreamStore, StreamGap, UserEvent
from src.application.chat.progress_writer import ProgressWriter
from src.application.chat.regenerate_reply import RegenerateReplyCommand
from src.application.chat.resume_reply_stream import ResumeReplyStream, ResumeReplyStreamQuery
from src.application.chat.send_message import SendMessageCommand
from src.application.chat.settings import ReplySettings
from src.application.chat.stop_reply import StopReplyCommand
from src.domain.chat.context import message_tokens
from src.domain.chat.errors import (
    AiRequestsRateLimited,
    ContextWindowExceeded,
    ConversationNotFound,
    EmptyMessage,
    MessageNotFound,
    MessageTooLong,
    ReplyInProgress,
    ReplyNotInProgress,
)
from src.domain.chat.model import Message, MessageStatus
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal, Role, Tier
from src.domain.llm.errors import ProviderUnavailable, UnknownModel
from src.domain.llm.model import ChatRequest, Chunk, FinishReason, MessageRole, TextDelta
from src.domain.shared.errors import ServiceUnavailable
from src.domain.usage.errors import BudgetExceeded
from tests.fakes.chat import InMemoryMessageRepository, Reply, ScriptedChatModel
from tests.fakes.shared import InMemoryUnitOfWork
from tests.unit.chat.conftest import ChatWorld, collect, principal


async def test_a_reply_streams_its_events_and_is_stored_with_usage_and_cost(world: ChatWorld) -> None:
    world.model.script(Reply(tokens=("Bonjour", " le", " monde"), model="priced"))
    handle = await world.say("Say hello in French", model="offline/priced")
    events = await collect(handle.events())

    assert [e.kind for e in events] == ["message", "delta", "delta", "delta", "done"]
    assert [e.id for e in events] == [1, 2, 3, 4, 5]
    assert events[0].data["content"] == "Say hello in French"
    assert "".join(e.data["text"] for e in events if e.kind == "delta") == "Bonjour le monde"
    done = events[-1].data
    assert done["content"] == "Bonjour le monde"
    assert done["finish_reason"] == "stop"
    assert done["status"] == "complete"
    assert done["usage"]["output_tokens"] == 3
    assert not done["usage"]["estimated"]
    # $1,000 a million tokens: 1,000 micro-dollars each, input and output.
    tokens = done["usage"]["input_tokens"] + done["usage"]["output_tokens"]
    assert done["cost_micros"] == tokens * 1000

    stored = await handle.result()
    assert stored.content == "Bonjour le monde"
    assert stored.id == handle.message_id
    user_message, reply = world.messages
    assert (user_message.role, reply.role) == (MessageRole.USER, MessageRole.ASSISTANT)
    assert reply.status is MessageStatus.COMPLETE
    assert reply.last_event_id == 5
    # Charged once, in the ledger the budget reads, with what the admin analytics read.
    assert [r.cost_micros for r in world.db.chat.usage] == [tokens * 1000]
    (record,) = world.db.chat.usage
    assert (record.latency_ms, record.ttft_ms) == (reply.latency_ms, reply.ttft_ms)
    assert record.latency_ms is not None
    assert record.ttft_ms is not None
    assert (record.error_code, record.fallback) == (None, False)
    assert sum(world.db.chat.months.values()) == tokens * 1000
    conversation = world.db.chat.conversations[handle.conversation_id]
    assert conversation.generating_message_id is None
    assert conversation.token_total == user_message.token_count + reply.token_count


async def test_a_reply_that_ends_before_its_first_flush_is_due_starts_no_flusher(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 14: the text-so-far flusher is a timer until its first flush is due: a reply over by then makes
    no task for it (nor for its waits); one still going by then is flushed as before."""
    started: list[float] = []
    run = ProgressWriter._run

    def counted(self: ProgressWriter, began: float) -> Coroutine[Any, Any, None]:
        started.append(began)
        return run(self, began)

    monkeypatch.setattr(ProgressWriter, "_run", counted)
    quick = ChatWorld(settings=ReplySettings(flush_interval_seconds=5))
    conversation = await quick.conversation()
    assert (await (await quick.say("hi", conversation_id=conversation.id)).result()).content
    assert started == []

    world = ChatWorld()  # flushes every 10 ms
    world.model.script(Reply(tokens=("one", " two", " three"), pause_after=2))
    conversation = await world.conversation()
    handle = await world.say("count", conversation_id=conversation.id)
    await asyncio.wait_for(world.model.paused.wait(), 5)
    for _ in range(100):
        row = world.db.chat.messages.get(handle.message_id)
        if row is not None and row.content == "one two":
            break
        await asyncio.sleep(0.01)
    assert len(started) == 1
    world.model.release()
    assert (await handle.result()).content == "one two three"


async def test_a_send_without_a_conversation_starts_one(world: ChatWorld) -> None:
    handle = await world.say("New topic", model="offline/echo")
    await handle.result()
    assert handle.created_conversation
    assert world.db.chat.conversations[handle.conversation_id].user_id == world.me.user_id


async def test_the_reply_row_exists_from_the_start_and_fills_while_it_streams(world: ChatWorld) -> None:
    world.model.script(Reply(tokens=("one", " two", " three", " four"), pause_after=2))
    conversation = await world.conversation()
    handle = await world.say("count", conversation_id=conversation.id)
    await asyncio.wait_for(world.model.paused.wait(), 5)
    for _ in range(100):  # the flusher writes every 10 ms here
        row = world.db.chat.messages.get(handle.message_id)
        if row is not None and row.content == "one two":
            break
        await asyncio.sleep(0.01)
    assert row is not None
    assert row.status is MessageStatus.GENERATING
    assert row.content == "one two"
    world.model.release()
    assert (await handle.result()).content == "one two three four"


async def test_a_reader_that_goes_away_changes_nothing(world: ChatWorld) -> None:
    world.model.script(Reply(tokens=tuple(f" w{i}" for i in range(20)), pause_after=3))
    conversation = await world.conversation()
    handle = await world.say("long answer please", conversation_id=conversation.id)
    events = handle.events()
    seen = [await anext(events) for _ in range(3)]
    await events.aclose()  # type: ignore[attr-defined]  # the client disconnected
    assert [e.kind for e in seen] == ["message", "delta", "delta"]
    world.model.release()
    stored = await handle.result()
    assert stored.content == "".join(f" w{i}" for i in range(20))
    assert len(world.db.chat.usage) == 1


async def test_a_second_send_while_a_reply_is_generating_is_refused(world: ChatWorld) -> None:
    world.model.script(Reply(pause_after=1))
    conversation = await world.conversation()
    first = await world.say("first", conversation_id=conversation.id)
    await asyncio.wait_for(world.model.paused.wait(), 5)
    with pytest.raises(ReplyInProgress) as caught:
        await world.say("second", conversation_id=conversation.id)
    assert caught.value.extra["message_id"] == str(first.message_id)
    world.model.release()
    await first.result()
    await (await world.say("third", conversation_id=conversation.id)).result()
    assert [m.content for m in world.messages if m.role is MessageRole.USER] == ["first", "third"]


async def test_a_failure_before_the_first_delta_stores_no_reply_and_frees_the_conversation(world: ChatWorld) -> None:
    world.model.script(Reply(error_before=ProviderUnavailable("every provider is down")), Reply())
    conversation = await world.conversation()
    handle = await world.say("hello?", conversation_id=conversation.id)
    events = await collect(handle.events())
    assert [e.kind for e in events] == ["message", "error"]
    assert events[-1].data == {"code": "provider_unavailable", "detail": "every provider is down", "message": None}
    with pytest.raises(ProviderUnavailable):
        await handle.result()
    assert [m.role for m in world.messages] == [MessageRole.USER]
    # The question stays, marked: clients show it as unanswered and offer to answer it again.
    assert world.messages[0].error_code == "provider_unavailable"
    assert world.db.chat.usage == []
    # The conversation is free: the next send is answered.
    assert (await (await world.say("again?", conversation_id=conversation.id)).result()).content


async def test_a_failure_after_the_first_delta_keeps_the_text_and_charges_what_was_used(world: ChatWorld) -> None:
    world.model.script(Reply(tokens=("partial", " answer", " lost"), fail_after=2, model="priced"))
    conversation = await world.conversation(model="offline/priced")
    handle = await world.say("explain", conversation_id=conversation.id)
    events = await collect(handle.events())
    assert [e.kind for e in events] == ["message", "delta", "delta", "error"]
    error = events[-1].data
    assert error["code"] == "provider_error"
    assert error["message"]["content"] == "partial answer"
    assert error["message"]["finish_reason"] == "error"
    stored = await handle.result()
    assert (stored.content, stored.finish_reason, stored.error_code) == (
        "partial answer",
        FinishReason.ERROR,
        "provider_error",
    )
    assert len(world.db.chat.usage) == 1
    assert world.db.chat.usage[0].cost_micros == stored.cost_micros > 0
    assert world.db.chat.usage[0].error_code == "provider_error"


async def test_a_reply_a_fallback_model_gave_is_recorded_as_a_fallback(world: ChatWorld) -> None:
    # The router answered with another model than the conversation's: the analytics count a fallback.
    world.model.script(Reply(tokens=("from", " elsewhere"), model="echo"))
    handle = await world.say("hello", model="offline/priced")
    await collect(handle.events())
    stored = await handle.result()
    assert stored.model == "offline/echo"
    (record,) = world.db.chat.usage
    assert (record.model, record.fallback, record.error_code) == ("offline/echo", True, None)


async def test_an_adapter_that_raises_mid_stream_still_ends_the_reply(world: ChatWorld) -> None:
    world.model.script(Reply(tokens=("a", " b", " c"), raise_after=1))
    handle = await world.say("go")
    events = await collect(handle.events())
    assert events[-1].kind == "error"
    stored = await handle.result()
    assert stored.content == "a"
    assert stored.finish_reason is FinishReason.ERROR
    assert stored.usage is not None
    assert stored.usage.estimated


async def test_usage_the_provider_did_not_report_is_estimated_and_says_so(world: ChatWorld) -> None:
    world.model.script(Reply(tokens=("no", " usage", " here"), report_usage=False))
    stored = await (await world.say("count for me")).result()
    assert stored.usage is not None
    assert stored.usage.estimated
    assert stored.usage.output_tokens >= 3
    assert stored.usage.input_tokens > 0
    assert world.db.chat.usage[0].usage.estimated


async def test_stop_cancels_the_model_call_and_keeps_the_text_as_cancelled(world: ChatWorld) -> None:
    world.model.script(Reply(tokens=("one", " two", " three", " four"), pause_after=2))
    conversation = await world.conversation()
    handle = await world.say("count", conversation_id=conversation.id)
    await asyncio.wait_for(world.model.paused.wait(), 5)
    await world.stop(world.me, StopReplyCommand(handle.message_id, conversation_id=conversation.id))
    events = await collect(handle.events())
    assert events[-1].kind == "done"
    assert events[-1].data["finish_reason"] == "cancelled"
    assert events[-1].data["content"] == "one two"
    assert world.model.closed == 1  # the upstream stream was closed, not left running
    assert len(world.db.chat.usage) == 1
    with pytest.raises(ReplyNotInProgress):
        await world.stop(world.me, StopReplyCommand(handle.message_id, conversation_id=conversation.id))
    # Only the owner may stop or read a reply, with or without naming its conversation.
    with pytest.raises(MessageNotFound):
        await world.stop(principal(), StopReplyCommand(handle.message_id))
    with pytest.raises(ConversationNotFound):
        await world.stop(principal(), StopReplyCommand(handle.message_id, conversation_id=conversation.id))
    with pytest.raises(MessageNotFound):
        await world.resume(principal(), ResumeReplyStreamQuery(handle.message_id))


async def test_a_stop_before_any_text_ends_the_reply_empty_and_cancelled(world: ChatWorld) -> None:
    world.model.script(Reply(pause_after=0))
    handle = await world.say("wait")
    await asyncio.wait_for(world.model.paused.wait(), 5)
    await world.stop(world.me, StopReplyCommand(handle.message_id))
    stored = await handle.result()
    assert (stored.content, stored.finish_reason) == ("", FinishReason.CANCELLED)


async def test_someone_elses_conversation_does_not_exist(world: ChatWorld) -> None:
    conversation = await world.conversation()
    with pytest.raises(ConversationNotFound):
        await world.say("hi", conversation_id=conversation.id, who=principal())
    assert world.messages == []


@pytest.mark.parametrize(
    ("content", "model", "error"),
    [
        ("", None, EmptyMessage),
        ("x" * 32_001, None, MessageTooLong),
        ("hi", "nope/model", UnknownModel),
        ("hi", "openai/nano", UnknownModel),  # in the catalog, but its provider is not configured
        ("word " * 200, "offline/tiny", ContextWindowExceeded),
    ],
)
async def test_bad_sends_are_refused_before_anything_is_stored_or_asked(
    world: ChatWorld, content: str, model: str | None, error: type[Exception]
) -> None:
    conversation = await world.conversation()
    with pytest.raises(error) as caught:
        await world.say(content, conversation_id=conversation.id, model=model)
    assert world.messages == []
    assert world.model.requests == []
    if error is UnknownModel:
        assert caught.value.extra["available"] == ["offline/echo", "offline/priced", "offline/tiny"]  # type: ignore[attr-defined]


async def test_a_spent_budget_is_refused_before_any_model_call(world: ChatWorld) -> None:
    world.model.script(Reply(tokens=tuple(" x" for _ in range(10)), model="priced"))
    conversation = await world.conversation(model="offline/priced")
    world.db.chat.budgets[world.me.user_id] = 10_000  # one cent: the first reply spends it
    await (await world.say("first", conversation_id=conversation.id)).result()
    asked = len(world.model.requests)
    with pytest.raises(BudgetExceeded) as caught:
        await world.say("second", conversation_id=conversation.id)
    assert caught.value.extra["spent_micros"] >= 10_000
    assert len(world.model.requests) == asked
    assert [m.content for m in world.messages if m.role is MessageRole.USER] == ["first"]


async def test_ai_requests_are_limited_per_user_by_tier(world: ChatWorld) -> None:
    for _ in range(20):
        await (await world.say("hi")).result()
    with pytest.raises(AiRequestsRateLimited) as caught:
        await world.say("one more")
    assert caught.value.extra["retry_after"] >= 1
    # Another user has their own allowance; a pro user a larger one.
    await (await world.say("hi", who=principal())).result()
    pro = principal(tier=Tier.PRO)
    for _ in range(25):
        await (await world.say("hi", who=pro)).result()


async def test_holders_of_the_exemption_are_not_limited(world: ChatWorld) -> None:
    admin = principal(role=Role.ADMIN)
    assert admin.can(Permission.RATE_LIMIT_EXEMPT)
    for _ in range(25):
        await (await world.say("hi", who=admin)).result()


async def test_chat_needs_the_chat_permission(world: ChatWorld) -> None:
    nobody = Principal(user_id=world.me.user_id, email="x@example.com", role=Role.CREATOR, tier=Tier.FREE)
    with pytest.raises(Forbidden):
        await world.send(nobody, SendMessageCommand("hi"))


async def test_only_what_fits_the_window_is_read_and_sent(world: ChatWorld) -> None:
    conversation = await world.conversation(model="offline/tiny")
    for i in range(40):
        await world.exchange(f"message number {i} with a few words", conversation.id)
    world.model.requests.clear()
    reads_before = sum(1 for _ in world.messages)
    handle = await world.say("the last question", conversation_id=conversation.id)
    await handle.result()
    prompt = world.model.requests[-1].messages
    assert prompt[-1].content == "the last question"
    assert len(prompt) < 20 < reads_before
    # The prompt is the newest messages, in order, within 200 - 50 tokens.
    assert sum(message_tokens(m.content) for m in prompt) <= 150
    contents = [m.content for m in world.messages if m.conversation_id == conversation.id]
    assert [m.content for m in prompt] == contents[-len(prompt) - 1 : -1]


async def test_a_title_is_asked_for_once_after_the_first_reply(world: ChatWorld) -> None:
    conversation = await world.conversation()
    await world.exchange("first question", conversation.id)
    await world.exchange("second question", conversation.id)
    jobs = [m for m in world.db.shared.outbox.values() if m.job_name == "title_conversation"]
    assert [j.payload for j in jobs] == [{"conversation_id": str(conversation.id)}]


async def test_a_titled_conversation_gets_no_title_job(world: ChatWorld) -> None:
    conversation = await world.conversation(title="Mine")
    await world.exchange("question", conversation.id)
    assert not [m for m in world.db.shared.outbox.values() if m.job_name == "title_conversation"]


async def test_reply_events_reach_the_users_other_clients(world: ChatWorld) -> None:
    async with world.events.subscribe(world.me.user_id) as events:
        handle = await world.say("hello")
        await handle.result()
        started = await asyncio.wait_for(anext(events), 1)
        finished = await asyncio.wait_for(anext(events), 1)
    assert started.type == "reply_started"
    assert started.data["message_id"] == str(handle.message_id)
    assert started.data["user_message"]["content"] == "hello"
    assert finished.type == "reply_finished"
    assert finished.data["finish_reason"] == "stop"


async def test_the_model_is_called_while_reply_started_is_still_being_published(
    world: ChatWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telling the user's other clients (a Redis round trip with Redis) does not hold up the model: the
    send calls it in its transaction, before the reply is launched and the event published (that the
    send does not wait for the publication at all is the test after the commit tests below)."""
    published, release = asyncio.Event(), asyncio.Event()
    publish = world.events.publish

    async def slow_publish(event: UserEvent) -> None:
        if event.type == "reply_started":
            published.set()
            await release.wait()
        await publish(event)

    monkeypatch.setattr(world.events, "publish", slow_publish)
    sending = asyncio.ensure_future(world.say("hello"))
    await published.wait()
    for _ in range(20):  # a few turns of the loop: the reply's task calls the model at its first
        if world.model.requests:
            break
        await asyncio.sleep(0)

    assert [r.messages[-1].content for r in world.model.requests] == ["hello"]
    release.set()
    handle = await sending
    assert (await handle.result()).content


async def test_a_reply_is_resumed_from_the_last_event_seen(world: ChatWorld) -> None:
    handle = await world.say("resume me")
    everything = await collect(handle.events())
    command = ResumeReplyStreamQuery(handle.message_id, "3", conversation_id=handle.conversation_id)
    rest = await collect(await world.resume(world.me, command))
    assert rest == everything[3:]


async def test_an_expired_stream_is_answered_from_the_stored_message(world: ChatWorld) -> None:
    handle = await world.say("old reply")
    everything = await collect(handle.events())
    world.streams.memory._expire(handle.message_id)
    command = ResumeReplyStreamQuery(handle.message_id, "2")
    rest = await collect(await world.resume(world.me, command))
    assert [e.kind for e in rest] == ["done"]
    assert rest[0].id == everything[-1].id
    assert rest[0].data == everything[-1].data
    up_to_date = ResumeReplyStreamQuery(handle.message_id, str(everything[-1].id))
    assert await collect(await world.resume(world.me, up_to_date)) == []


async def test_shutdown_stores_replies_under_way_as_interrupted(world: ChatWorld) -> None:
    world.model.script(Reply(tokens=("kept", " text", " lost"), pause_after=2))
    handle = await world.say("a long one")
    await asyncio.wait_for(world.model.paused.wait(), 5)
    await world.tasks.drain(timeout=0)
    stored = world.db.chat.messages[handle.message_id]
    assert (stored.content, stored.finish_reason, stored.error_code) == ("kept text", FinishReason.ERROR, "interrupted")
    assert stored.status is MessageStatus.COMPLETE
    assert world.db.chat.conversations[handle.conversation_id].generating_message_id is None
    assert len(world.db.chat.usage) == 1


async def abandoned_reply(world: ChatWorld, conversation_id: uuid.UUID) -> uuid.UUID:
    """What an instance that died mid-reply leaves: a claimed conversation and a half-written reply."""
    now = world.clock.now()
    reply_id = uuid.uuid4()
    async with world.uow() as tx:
        conversation = await tx.conversations.get(conversation_id)
        assert conversation is not None
        tokens = message_tokens("crash during this")
        claim = await tx.conversations.claim_reply(
            conversation_id, reply_id, seqs=2, token_delta=tokens, now=now, lease_until=now + timedelta(seconds=30)
        )
        assert claim is not None
        user_message = Message.from_user(
            id=uuid.uuid4(),
            conversation=conversation,
            seq=claim.first_seq,
            content="crash during this",
            token_count=tokens,
            model="offline/priced",
            now=now,
        )
        await tx.messages.add(user_message)
        await tx.messages.add(
            Message.placeholder_reply(
                id=reply_id, conversation=conversation, seq=claim.first_seq + 1, model="offline/priced", now=now
            )
        )
        await tx.messages.save_progress(reply_id, content="half done", last_event_id=3, now=now)
    return reply_id


async def test_a_reply_left_behind_by_a_dead_instance_is_recovered_once(world: ChatWorld) -> None:
    conversation = await world.conversation(model="offline/priced")
    reply_id = await abandoned_reply(world, conversation.id)
    assert (await world.recover()).recovered == 0  # its lease still runs: maybe it is only slow
    world.clock.advance(31)
    assert (await world.recover()).recovered == 1
    stored = world.db.chat.messages[reply_id]
    assert (stored.content, stored.finish_reason, stored.error_code) == ("half done", FinishReason.ERROR, "interrupted")
    assert stored.usage is not None
    assert stored.usage.estimated
    assert stored.cost_micros > 0
    assert stored.last_event_id == 4
    assert (await world.recover()).recovered == 0
    assert len(world.db.chat.usage) == 1
    await (await world.say("still there?", conversation_id=conversation.id)).result()


async def test_a_send_after_the_lease_ran_out_finishes_the_abandoned_reply_first(world: ChatWorld) -> None:
    conversation = await world.conversation(model="offline/priced")
    reply_id = await abandoned_reply(world, conversation.id)
    with pytest.raises(ReplyInProgress):
        await world.say("too soon", conversation_id=conversation.id)
    world.clock.advance(31)
    await (await world.say("now", conversation_id=conversation.id)).result()
    assert world.db.chat.messages[reply_id].error_code == "interrupted"
    assert [m.content for m in world.messages] == ["crash during this", "half done", "now", "Hello there, friend."]


async def test_a_reply_that_ends_while_the_database_is_away_is_stored_in_full_once_it_is_back(
    world: ChatWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.chat import InMemoryMessageRepository

    attempts = 0
    finish = InMemoryMessageRepository.finish

    async def away_for_a_while(self: InMemoryMessageRepository, message: Message) -> bool:
        nonlocal attempts
        attempts += 1
        if attempts <= 3:
            raise ConnectionError("the database went away")
        return await finish(self, message)

    monkeypatch.setattr(InMemoryMessageRepository, "finish", away_for_a_while)
    world.model.script(Reply(tokens=("every", " word", " kept")))
    handle = await world.say("store me")
    events = await collect(handle.events())
    assert events[-1].kind == "done"
    assert attempts == 4
    stored = world.db.chat.messages[handle.message_id]
    assert (stored.content, stored.finish_reason) == ("every word kept", FinishReason.STOP)
    assert stored.last_event_id == events[-1].id
    assert len(world.db.chat.usage) == 1


async def test_a_reply_the_database_cannot_store_within_its_lease_is_recovered_with_the_text_the_readers_saw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.fakes.chat import InMemoryMessageRepository

    world = ChatWorld(settings=ReplySettings(flush_interval_seconds=0.01, lease_seconds=0.5))

    async def broken(self: object, message: object) -> bool:
        raise ConnectionError("the database went away")

    world.model.script(Reply(tokens=("kept", " so", " far"), pause_after=2))
    conversation = await world.conversation(model="offline/priced")
    handle = await world.say("store me", conversation_id=conversation.id)
    await asyncio.wait_for(world.model.paused.wait(), 5)
    for _ in range(100):  # the text so far reaches the row
        if world.db.chat.messages[handle.message_id].content == "kept so":
            break
        await asyncio.sleep(0.01)
    # The last words never reach the row: the database is away from here on.
    monkeypatch.setattr(InMemoryMessageRepository, "save_progress", broken)
    monkeypatch.setattr(InMemoryMessageRepository, "finish", broken)
    world.model.release()
    events = await collect(handle.events())
    assert events[-1].kind == "error"
    assert events[-1].data["code"] == "service_unavailable"
    with pytest.raises(ServiceUnavailable):
        await handle.result()
    monkeypatch.undo()
    assert world.db.chat.messages[handle.message_id].content == "kept so"
    assert world.db.chat.messages[handle.message_id].status is MessageStatus.GENERATING
    world.clock.advance(31)
    assert (await world.recover()).recovered == 1
    stored = world.db.chat.messages[handle.message_id]
    # Every word the readers were sent, from the reply stream: not the last flush.
    assert (stored.content, stored.error_code) == ("kept so far", "interrupted")
    assert stored.last_event_id == events[-1].id
    assert stored.usage is not None
    assert stored.usage.input_tokens > 0  # the prompt's estimate, kept on the row from the start
    assert stored.cost_micros > 0
    # Its readers had their end already: resuming from it adds nothing.
    again = ResumeReplyStreamQuery(handle.message_id, str(events[-1].id))
    assert await collect(await world.resume(world.me, again)) == []


async def dead_writers_stream(world: ChatWorld, reply_id: uuid.UUID) -> None:
    """The stream the dead instance wrote: more words than its last flush reached the row."""
    await world.streams.append(reply_id, ReplyEvent(id=1, kind="message", data={}))
    for event_id, text in enumerate(("half", " done", " and", " more"), start=2):
        await world.streams.append(reply_id, ReplyEvent(id=event_id, kind="delta", data={"text": text}))


async def test_a_reader_of_a_reply_whose_writer_died_ends_once_the_lease_runs_out(world: ChatWorld) -> None:
    conversation = await world.conversation(model="offline/priced")
    reply_id = await abandoned_reply(world, conversation.id)
    await dead_writers_stream(world, reply_id)
    reader = asyncio.ensure_future(collect(await world.resume(world.me, ResumeReplyStreamQuery(reply_id, "1")), 10))
    await asyncio.sleep(0.2)  # the reader waits: the lease still runs, the writer may only be slow
    assert not reader.done()
    world.clock.advance(31)
    events = await asyncio.wait_for(reader, 5)
    assert [e.kind for e in events] == ["delta", "delta", "delta", "delta", "error"]
    assert [e.id for e in events] == [2, 3, 4, 5, 6]
    assert events[-1].data["code"] == "interrupted"
    stored = world.db.chat.messages[reply_id]
    assert (stored.content, stored.error_code, stored.last_event_id) == ("half done and more", "interrupted", 6)
    assert events[-1].data["message"]["content"] == "half done and more"
    # Exactly once, and a later reader is answered at once.
    assert (await world.recover()).recovered == 0
    late = await collect(await world.resume(world.me, ResumeReplyStreamQuery(reply_id, "0")))
    assert late[-1].kind == "error"
    assert len(world.db.chat.usage) == 1


async def test_recovery_tells_the_readers_of_the_replies_it_finishes(world: ChatWorld) -> None:
    conversation = await world.conversation(model="offline/priced")
    reply_id = await abandoned_reply(world, conversation.id)
    await dead_writers_stream(world, reply_id)
    world.clock.advance(31)
    assert (await world.recover()).recovered == 1
    events = await collect(world.streams.memory.follow(reply_id, after=5))
    assert [(e.id, e.kind, e.data["code"]) for e in events] == [(6, "error", "interrupted")]


class LostEvents:
    """The shared stream after Redis came back empty: events after ``lost_after`` up to ``lost_until``
    are gone; later ones (the writer went on appending) are there."""

    def __init__(self, streams: ReplyStreamStore, lost_after: int, lost_until: int) -> None:
        self._streams = streams
        self._lost_after = lost_after
        self._lost_until = lost_until

    async def append(self, reply_id: uuid.UUID, event: ReplyEvent) -> None:
        await self._streams.append(reply_id, event)

    async def close(self, reply_id: uuid.UUID) -> None:
        await self._streams.close(reply_id)

    async def read(self, reply_id: uuid.UUID) -> Sequence[ReplyEvent] | None:
        return await self._streams.read(reply_id)

    async def follow(
        self, reply_id: uuid.UUID, *, after: int = 0, idle_timeout: float | None = None
    ) -> AsyncIterator[ReplyEvent]:
        if self._lost_after <= after < self._lost_until:
            raise StreamGap(after, self._lost_until + 1)
        async for event in self._streams.follow(reply_id, after=after, idle_timeout=idle_timeout):
            yield event


async def test_a_reader_the_stream_cannot_continue_gets_the_stored_text_as_one_snapshot_then_live_deltas(
    world: ChatWorld,
) -> None:
    world.model.script(Reply(tokens=("one", " two", " three", " four"), pause_after=3))
    handle = await world.say("go on")
    await asyncio.wait_for(world.model.paused.wait(), 5)
    for _ in range(100):  # the row has the text so far (events 2-4)
        if world.db.chat.messages[handle.message_id].last_event_id == 4:
            break
        await asyncio.sleep(0.01)
    lost = LostEvents(world.streams, lost_after=2, lost_until=4)
    assert world.settings is not None  # ChatWorld fills in the default settings
    resume = ResumeReplyStream(world.uow, lost, world.settings, world.recovery, world.clock)
    reader = asyncio.ensure_future(collect(await resume(world.me, ResumeReplyStreamQuery(handle.message_id, "2"))))
    await asyncio.sleep(0.05)
    world.model.release()
    events = await reader
    assert [(e.id, e.kind) for e in events] == [(4, "snapshot"), (5, "delta"), (6, "done")]
    assert events[0].data == {"text": "one two three"}
    assert events[1].data == {"text": " four"}
    assert events[2].data["content"] == "one two three four"


async def test_a_reader_whose_stream_cannot_be_read_gets_the_stored_text_until_the_reply_ends(
    world: ChatWorld,
) -> None:
    conversation = await world.conversation(model="offline/priced")
    reply_id = await abandoned_reply(world, conversation.id)  # generating; its stream unknown here
    reader = asyncio.ensure_future(collect(await world.resume(world.me, ResumeReplyStreamQuery(reply_id, "1")), 10))
    await asyncio.sleep(0.2)
    assert not reader.done()  # its writer may be alive: the reader waits, it is not cut off
    world.clock.advance(31)
    events = await asyncio.wait_for(reader, 5)
    assert [(e.id, e.kind) for e in events] == [(3, "snapshot"), (4, "error")]
    assert events[0].data == {"text": "half done"}
    assert events[1].data["code"] == "interrupted"


async def test_a_send_stores_its_message_with_the_replys_row_and_sends_it_last(
    world: ChatWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: the user's message is stored together with the reply's row (one round trip on
    PostgreSQL), after the history is read; the prompt still ends with it, after the earlier turns."""
    first = await world.say("first question")
    await first.result()
    stored: list[list[MessageRole]] = []
    add_all = InMemoryMessageRepository.add_all

    async def spied(self: InMemoryMessageRepository, messages: Sequence[Message]) -> None:
        stored.append([m.role for m in messages])
        await add_all(self, messages)

    monkeypatch.setattr(InMemoryMessageRepository, "add_all", spied)
    handle = await world.say("second question", conversation_id=first.conversation.id)
    await handle.result()
    assert stored == [[MessageRole.USER, MessageRole.ASSISTANT]]
    prompt = [(m.role, m.content) for m in world.model.requests[-1].messages]
    assert prompt[0] == (MessageRole.USER, "first question")
    assert prompt[-1] == (MessageRole.USER, "second question")
    assert [m.content for m in world.messages if m.role is MessageRole.USER] == ["first question", "second question"]


def gate_the_next_write_commit(monkeypatch: pytest.MonkeyPatch, before: Callable[[], Awaitable[None]]) -> None:
    """The next unit of work that writes runs ``before`` when it commits (read-only ones go on as usual)."""
    commit = InMemoryUnitOfWork.commit
    armed = [True]

    async def gated(self: InMemoryUnitOfWork) -> None:
        if armed[0] and not self.read_only:
            armed[0] = False
            await before()
        await commit(self)

    monkeypatch.setattr(InMemoryUnitOfWork, "commit", gated)


async def turns_until(condition: Callable[[], bool]) -> bool:
    for _ in range(50):  # a few turns of the loop
        if condition():
            return True
        await asyncio.sleep(0)
    return condition()


async def test_the_model_is_called_while_the_send_commits_and_nothing_is_shown_before_the_commit(
    world: ChatWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: the model call starts once the prompt is built, so the provider's time to its first
    token overlaps storing the rows and the commit; the reply's stream starts only after the commit,
    with the user's message first."""
    conversation = await world.conversation()
    committing, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        committing.set()
        await release.wait()

    gate_the_next_write_commit(monkeypatch, hold)
    sending = asyncio.ensure_future(world.say("hello", conversation_id=conversation.id))
    await committing.wait()
    assert await turns_until(lambda: bool(world.model.requests)), "the model is called before the commit"
    assert [r.messages[-1].content for r in world.model.requests] == ["hello"]
    assert world.messages == []  # nothing committed yet
    assert not sending.done()

    release.set()
    handle = await sending
    events = await collect(handle.events())
    assert [e.kind for e in events][:2] == ["message", "delta"]
    assert events[0].data["content"] == "hello"
    assert "".join(e.data["text"] for e in events if e.kind == "delta") == "Hello there, friend."
    assert (await handle.result()).content == "Hello there, friend."
    assert [m.content for m in world.messages] == ["hello", "Hello there, friend."]


async def test_a_send_whose_commit_fails_stops_the_model_call_it_started(
    world: ChatWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit fails after the model call started: the call is stopped (its stream closed, nothing
    of it shown or stored), the error reaches the caller, and the conversation is free for the next send."""
    conversation = await world.conversation()

    async def fail() -> None:
        assert await turns_until(lambda: bool(world.model.requests))
        raise ServiceUnavailable("the database went away")

    gate_the_next_write_commit(monkeypatch, fail)
    with pytest.raises(ServiceUnavailable):
        await world.say("hello", conversation_id=conversation.id)
    assert len(world.model.requests) == 1
    assert world.model.closed == 1, "the model call must be stopped"
    assert world.messages == []

    handle = await world.say("again", conversation_id=conversation.id)
    assert (await handle.result()).content == "Hello there, friend."
    assert [m.content for m in world.messages] == ["again", "Hello there, friend."]


async def test_a_send_returns_without_waiting_for_reply_started_to_be_published_and_the_order_holds(
    world: ChatWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reply's stream (the SSE response) starts without waiting for the Redis round trip that tells
    the user's other clients; they still hear ``reply_started`` before the reply's own events."""
    release = asyncio.Event()
    publish = world.events.publish
    heard: list[str] = []

    async def slow_publish(event: UserEvent) -> None:
        heard.append(event.type)
        if event.type == "reply_started":
            await release.wait()
        await publish(event)

    monkeypatch.setattr(world.events, "publish", slow_publish)
    handle = await asyncio.wait_for(world.say("hello"), 5)
    assert heard == ["reply_started"]
    assert not release.is_set()
    release.set()
    assert (await handle.result()).content == "Hello there, friend."
    assert await turns_until(lambda: "reply_finished" in heard)
    assert heard.index("reply_started") < heard.index("reply_finished")


async def test_a_call_that_failed_before_a_failed_commit_is_not_reported_as_an_unretrieved_error(
    world: ChatWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's first read failed, then the commit did: the send reports the commit's failure, and the
    call's own error is not left for asyncio to log as "Task exception was never retrieved"."""
    world.model.script(Reply(error_before=ProviderUnavailable("the provider is down")))
    conversation = await world.conversation()
    seen: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: seen.append(context))

    async def fail() -> None:
        assert await turns_until(lambda: world.model.closed == 1)  # the first read has failed
        raise ServiceUnavailable("the database went away")

    gate_the_next_write_commit(monkeypatch, fail)
    with pytest.raises(ServiceUnavailable):
        await world.say("hello", conversation_id=conversation.id)
    gc.collect()
    await asyncio.sleep(0)
    assert not [c for c in seen if "never retrieved" in str(c.get("message"))]


async def test_a_first_delta_that_arrived_during_the_commit_is_in_the_stream_when_the_send_returns(
    world: ChatWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: the early call's first chunk, there by the launch, is shown at once: the reply's stream
    holds it after the user's message before the reply's task has run (its readers get both in one go),
    and the reply's task goes on from the chunk after it."""
    conversation = await world.conversation()

    async def until_the_model_answered() -> None:
        assert await turns_until(lambda: bool(world.model.requests))
        for _ in range(5):  # its first chunk reaches the call's first read
            await asyncio.sleep(0)

    gate_the_next_write_commit(monkeypatch, until_the_model_answered)
    handle = await world.say("hello", conversation_id=conversation.id)
    shown = world.streams.memory.events(handle.message_id)
    assert shown is not None
    assert [(e.id, e.kind) for e in shown] == [(1, "message"), (2, "delta")]
    assert shown[1].data == {"text": "Hello"}

    events = await collect(handle.events())
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert "".join(e.data["text"] for e in events if e.kind == "delta") == "Hello there, friend."
    stored = await handle.result()
    assert stored.content == "Hello there, friend."
    assert stored.ttft_ms is not None


class _AllAtOnce(ScriptedChatModel):
    """A model whose answer arrives after the launch (``release``) in one read: every chunk there at once."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        self.requests.append(request)
        await self._gate.wait()
        for token in ("Hello", " there", "."):
            yield TextDelta(token)
        yield self._end(Reply(), request, 3, FinishReason.STOP, None, None)


async def test_the_first_delta_of_chunks_that_came_at_once_reaches_a_reader_before_the_rest() -> None:
    """Issue 14: the first delta the reply's task shows is taken by a reader waiting on the stream (an SSE
    response) before the task reads on: chunks that arrived together were all read, and the reply stored,
    before any reader ran."""
    world = ChatWorld(model=_AllAtOnce())
    conversation = await world.conversation()
    handle = await world.say("hello", conversation_id=conversation.id)
    follow = world.streams.memory.follow(handle.message_id, after=handle.shown_up_to)
    assert handle.shown_up_to == 1  # the user's message only: the answer had not come

    async def first_batch() -> list[ReplyEvent]:
        assert await follow.wait(5)
        return follow.take()[0]

    reader = asyncio.ensure_future(first_batch())
    await asyncio.sleep(0)
    world.model.release()
    assert [(e.kind, e.data.get("text")) for e in await asyncio.wait_for(reader, 5)] == [("delta", "Hello")]
    assert (await handle.result()).content == "Hello there."


async def test_a_first_chunk_that_is_not_text_is_left_to_the_replys_task(
    world: ChatWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty answer's end (or a failure) that arrived by the launch is read by the reply's task as
    usual: nothing is shown before it runs, and the reply ends as it always did."""
    conversation = await world.conversation()
    world.model.script(Reply(tokens=()))

    async def until_the_model_answered() -> None:
        assert await turns_until(lambda: bool(world.model.requests))
        for _ in range(5):
            await asyncio.sleep(0)

    gate_the_next_write_commit(monkeypatch, until_the_model_answered)
    handle = await world.say("hello", conversation_id=conversation.id)
    shown = world.streams.memory.events(handle.message_id)
    assert [e.kind for e in shown or []] == ["message"]
    events = await collect(handle.events())
    assert [e.kind for e in events] == ["message", "done"]
    assert events[-1].data["content"] == ""


async def test_a_regeneration_calls_the_model_while_it_commits_and_shows_its_first_delta_at_once(
    world: ChatWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: regenerating a reply starts the model call once the prompt is built, as a send does,
    while the old reply's deletion and the new row are committed; nothing is shown before the commit,
    and a first delta there by then is in the stream when the regeneration returns."""
    conversation = await world.conversation()
    first = await world.exchange("question", conversation.id)
    world.model.script(Reply(tokens=("A", " better", " answer")))
    committing, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        committing.set()
        await release.wait()

    gate_the_next_write_commit(monkeypatch, hold)
    command = RegenerateReplyCommand(conversation.id, first.message_id)
    regenerating = asyncio.ensure_future(world.regenerate(world.me, command))
    await committing.wait()
    assert await turns_until(lambda: len(world.model.requests) == 2), "the model is called before the commit"
    assert world.model.requests[-1].messages[-1].content == "question"
    assert [m.content for m in world.messages] == ["question", "Hello there, friend."]  # not committed yet

    await turns_until(lambda: False)  # the call's first chunk arrives meanwhile
    release.set()
    handle = await regenerating
    shown = world.streams.memory.events(handle.message_id)
    assert [(e.id, e.kind) for e in shown or []] == [(1, "message"), (2, "delta")]
    assert (await handle.result()).content == "A better answer"
    assert [m.content for m in world.messages] == ["question", "A better answer"]


async def test_a_regeneration_whose_commit_fails_stops_the_call_and_keeps_the_old_reply(
    world: ChatWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = await world.conversation()
    first = await world.exchange("question", conversation.id)

    async def fail() -> None:
        assert await turns_until(lambda: len(world.model.requests) == 2)
        raise ServiceUnavailable("the database went away")

    gate_the_next_write_commit(monkeypatch, fail)
    with pytest.raises(ServiceUnavailable):
        await world.regenerate(world.me, RegenerateReplyCommand(conversation.id, first.message_id))
    assert world.model.closed == 2, "the regeneration's model call must be stopped"
    assert [m.content for m in world.messages] == ["question", "Hello there, friend."]
    assert world.db.chat.conversations[conversation.id].generating_message_id is None
