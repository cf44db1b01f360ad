"""A send planned ahead of any transaction (``ReplyStarts``, as on PostgreSQL): the conversation and its
context read, the model called, then the lock claimed and both rows stored in one write, only if the
conversation is still as read; every other case planned in a unit of work as before."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from src.domain.chat.errors import AiRequestsRateLimited, ReplyInProgress
from src.domain.chat.model import Grounding, MessageStatus
from src.domain.usage.model import month_start
from tests.fakes.chat import InMemoryReplyStarts, Reply
from tests.unit.chat.conftest import AI_FREE, ChatWorld


def ahead_world() -> tuple[ChatWorld, InMemoryReplyStarts]:
    world = ChatWorld(sends_ahead=True)
    assert world.reply_starts is not None
    return world, world.reply_starts


async def test_a_send_to_a_conversation_is_planned_ahead_with_its_history() -> None:
    world, starts = ahead_world()
    conversation = await world.conversation()
    first = await (await world.say("Hello there", conversation_id=conversation.id)).result()
    second = await (await world.say("And again", conversation_id=conversation.id)).result()
    assert starts.claimed == [first.id, second.id]
    stored = sorted(world.db.chat.messages.values(), key=lambda m: m.seq)
    assert [(m.seq, m.role.value, m.status) for m in stored] == [
        (1, "user", MessageStatus.COMPLETE),
        (2, "assistant", MessageStatus.COMPLETE),
        (3, "user", MessageStatus.COMPLETE),
        (4, "assistant", MessageStatus.COMPLETE),
    ]
    starts_at = [m.token_start or 0 for m in stored]
    assert starts_at == sorted(starts_at)
    # The second reply was sent the whole exchange before it, and its own message.
    assert [m.content for m in world.model.requests[-1].messages][-3:] == ["Hello there", first.content, "And again"]
    freed = world.db.chat.conversations[conversation.id]
    assert freed.generating_message_id is None
    assert freed.token_total == sum(m.token_count or 0 for m in stored)


async def test_a_conversation_changed_after_its_read_is_sent_in_a_transaction_instead() -> None:
    """Another instance's message lands between the read and the claim: the write applies nothing, the
    early call is stopped, and the send is planned again in a unit of work, numbered after that message."""
    world, starts = ahead_world()
    conversation = await world.conversation()
    await (await world.say("first", conversation_id=conversation.id)).result()

    async def another_send_lands() -> None:
        starts.before_claim = None
        await (await world.say("from elsewhere", conversation_id=conversation.id)).result()

    starts.before_claim = another_send_lands
    calls = len(world.model.requests)
    handle = await world.say("racing", conversation_id=conversation.id)
    reply = await handle.result()
    assert starts.refused == 1
    assert reply.id not in starts.claimed
    assert len(world.model.requests) == calls + 3  # the stopped call, the other send's, the one sent again
    assert world.model.closed == len(world.model.requests)
    users = sorted((m.seq, m.content) for m in world.db.chat.messages.values() if m.role.value == "user")
    assert users == [(1, "first"), (3, "from elsewhere"), (5, "racing")]
    assert handle.user_message.content == "racing"
    # Planned twice, counted once of the AI allowance: three sends so far, so 17 more pass, then a refusal.
    for _ in range(AI_FREE.limit - 3):
        await (await world.say("more", conversation_id=conversation.id)).result()
    with pytest.raises(AiRequestsRateLimited):
        await world.say("one too many", conversation_id=conversation.id)


async def test_a_reply_in_progress_is_refused_before_the_model_is_called() -> None:
    world, starts = ahead_world()
    conversation = await world.conversation()
    world.model.script(Reply(tokens=("a", "b", "c"), pause_after=1))
    running = await world.say("long one", conversation_id=conversation.id)
    await world.model.paused.wait()
    calls = len(world.model.requests)
    with pytest.raises(ReplyInProgress):
        await world.say("too soon", conversation_id=conversation.id)
    assert len(world.model.requests) == calls
    world.model.release()
    await running.result()
    assert starts.refused == 0


async def test_a_lock_left_by_a_dead_instance_is_taken_over_in_a_transaction() -> None:
    world, starts = ahead_world()
    conversation = await world.conversation()
    stale = world.db.chat.conversations[conversation.id]
    stale.generating_message_id = world.me.user_id  # any id: no such reply is running
    stale.generating_until = world.clock.now() - timedelta(seconds=1)
    reply = await (await world.say("anyone?", conversation_id=conversation.id)).result()
    assert starts.claimed == []
    assert world.db.chat.conversations[conversation.id].generating_message_id is None
    assert reply.status is MessageStatus.COMPLETE


async def test_a_grounded_conversation_reads_its_passages_in_a_transaction() -> None:
    world, starts = ahead_world()
    conversation = await world.conversation()
    row = world.db.chat.conversations[conversation.id]
    world.db.chat.conversations[conversation.id] = dataclasses.replace(row, grounding=Grounding(None))
    await (await world.say("what do I know?", conversation_id=conversation.id)).result()
    assert starts.claimed == []


async def test_a_spent_budget_and_a_missing_conversation_are_refused_as_in_a_transaction() -> None:
    from src.domain.chat.errors import ConversationNotFound
    from src.domain.usage.errors import BudgetExceeded

    world, starts = ahead_world()
    conversation = await world.conversation()
    with pytest.raises(ConversationNotFound):
        await world.say("hello", conversation_id=world.me.user_id)
    world.db.chat.months[(world.me.user_id, month_start(world.clock.now()).date())] = 10**12
    with pytest.raises(BudgetExceeded):
        await world.say("hello", conversation_id=conversation.id)
    assert world.model.requests == []
    assert starts.claimed == []


async def test_the_ai_request_is_counted_while_the_conversation_is_read() -> None:
    """The allowance's round trip (Redis, with Redis) overlaps the read: the limiter here answers only once
    the read has begun, which a send counting first and reading after would wait for in vain."""
    world, starts = ahead_world()
    conversation = await world.conversation()
    read_begun = asyncio.Event()
    limiter, read = world.limiter, starts.read
    plain_hit = limiter.hit
    hits: list[str] = []

    async def hit_once_the_read_began(key: str, limit: int, window_seconds: float, *, cost: int = 1) -> Any:
        await asyncio.wait_for(read_begun.wait(), timeout=2)
        hits.append(key)
        return await plain_hit(key, limit, window_seconds, cost=cost)

    async def read_and_say_so(*args: Any) -> Any:
        read_begun.set()
        await asyncio.sleep(0)
        return await read(*args)

    limiter.hit = hit_once_the_read_began  # type: ignore[method-assign]
    starts.read = read_and_say_so  # type: ignore[method-assign, assignment]
    await (await world.say("hello", conversation_id=conversation.id)).result()
    assert hits == [f"ai_free:user:{world.me.user_id}"]  # counted once
    assert len(starts.claimed) == 1


async def test_a_refused_ai_request_answers_first_and_stores_nothing() -> None:
    world, starts = ahead_world()
    conversation = await world.conversation()
    for _ in range(AI_FREE.limit):
        await world.limiter.hit(f"ai_free:user:{world.me.user_id}", AI_FREE.limit, AI_FREE.window_seconds)
    stored = dict(world.db.chat.messages)
    with pytest.raises(AiRequestsRateLimited):
        await world.say("hello", conversation_id=conversation.id)
    # A conversation that is not there: still the limit's answer, as when it was counted before the read.
    with pytest.raises(AiRequestsRateLimited):
        await world.say("hello", conversation_id=world.me.user_id)
    assert world.db.chat.messages == stored
    assert world.model.requests == []
    assert starts.claimed == []


async def test_a_send_cancelled_during_its_read_cancels_its_count() -> None:
    """The client went away while the conversation was being read: the count beside it is cancelled with
    the send, not left running (or failing) on its own."""
    world, starts = ahead_world()
    conversation = await world.conversation()
    counting, reading, count_cancelled = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow_hit(*args: Any, **kwargs: Any) -> Any:
        counting.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            count_cancelled.set()
            raise

    async def slow_read(*args: Any) -> Any:
        reading.set()
        await asyncio.sleep(60)

    world.limiter.hit = slow_hit  # type: ignore[method-assign]
    starts.read = slow_read  # type: ignore[method-assign, assignment]
    send = asyncio.create_task(world.say("hello", conversation_id=conversation.id))
    await asyncio.wait_for(asyncio.gather(counting.wait(), reading.wait()), timeout=2)
    send.cancel()
    with pytest.raises(asyncio.CancelledError):
        await send
    await asyncio.wait_for(count_cancelled.wait(), timeout=2)
    assert not [m for m in world.db.chat.messages.values() if m.conversation_id == conversation.id]
