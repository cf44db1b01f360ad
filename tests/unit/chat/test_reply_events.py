"""The events a reply records with its charge: ``UsageCharged`` for a priced reply, ``ReplyFailed`` when
it ends in an error (with or without text kept)."""

from __future__ import annotations

from typing import Any

import pytest

from src.application.shared.events import DISPATCH_EVENT_JOB
from src.domain.llm.errors import ProviderUnavailable
from src.domain.usage.model import month_start
from tests.fakes.chat import InMemoryUsageRepository, Reply
from tests.unit.chat.conftest import ChatWorld


def events(world: ChatWorld) -> list[tuple[str, dict[str, Any]]]:
    return [
        (m.payload["type"], m.payload["event"])
        for m in world.db.shared.outbox.values()
        if m.job_name == DISPATCH_EVENT_JOB
    ]


def spent_this_month(world: ChatWorld, micros: int) -> None:
    """The user's month so far (the free tier's budget is 5,000,000 micro-dollars)."""
    world.db.chat.months[(world.me.user_id, month_start(world.clock.now()).date())] = micros


async def test_a_priced_reply_far_from_the_budget_records_no_event(world: ChatWorld) -> None:
    """Regression (issue 14): every paid reply recorded UsageCharged, an outbox message, a relay round and
    a budget-alert job with its own transaction, ~10 % of a reply's CPU, to find no threshold reached."""
    world.model.script(Reply(tokens=("Bonjour", " le", " monde"), model="priced"))
    handle = await world.say("Say hello", model="offline/priced")
    stored = await handle.result()
    assert stored.cost_micros > 0
    assert events(world) == []


async def test_a_priced_reply_that_reaches_a_threshold_records_its_charge(world: ChatWorld) -> None:
    spent_this_month(world, 4_000_000)  # 80 % of the free tier's 5,000,000 with this reply's charge
    world.model.script(Reply(tokens=("Bonjour", " le", " monde"), model="priced"))
    handle = await world.say("Say hello", model="offline/priced")
    stored = await handle.result()
    ((kind, data),) = events(world)
    assert kind == "UsageCharged"
    assert data["cost_micros"] == stored.cost_micros > 0
    assert data["user_id"] == str(world.me.user_id)


async def test_a_reply_that_fails_after_writing_records_the_failure(world: ChatWorld) -> None:
    spent_this_month(world, 4_500_000)
    world.model.script(Reply(tokens=("partial", " answer", " lost"), fail_after=2, model="priced"))
    conversation = await world.conversation(model="offline/priced")
    handle = await world.say("go", conversation_id=conversation.id)
    await handle.outcome()
    kinds = dict(events(world))
    assert set(kinds) == {"UsageCharged", "ReplyFailed"}
    assert kinds["ReplyFailed"]["conversation_id"] == str(conversation.id)
    assert kinds["ReplyFailed"]["error_code"]


async def test_a_reply_that_fails_before_any_text_records_the_failure_only(world: ChatWorld) -> None:
    world.model.script(Reply(error_before=ProviderUnavailable("down")))
    handle = await world.say("are you there?")
    await handle.outcome()
    ((kind, data),) = events(world)
    assert kind == "ReplyFailed"
    assert data["error_code"] == "provider_unavailable"


async def test_the_threshold_check_takes_the_months_total_from_the_charge_itself(
    world: ChatWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: the reply's charge gives the month's total with it (one statement on PostgreSQL), so the
    budget-alert check reads nothing more; a crossing is still recorded."""
    reads: list[object] = []

    async def spent_in_month(self: InMemoryUsageRepository, user_id: object, month: object) -> int:
        reads.append(user_id)
        return 0

    monkeypatch.setattr(InMemoryUsageRepository, "spent_in_month", spent_in_month)
    spent_this_month(world, 4_000_000)
    world.model.script(Reply(tokens=("Bonjour", " le", " monde"), model="priced"))
    handle = await world.say("Say hello", model="offline/priced")
    await handle.result()
    assert [kind for kind, _ in events(world)] == ["UsageCharged"]
    assert reads == []


async def test_a_reply_ends_in_one_statement_unless_it_raises_another_event() -> None:
    """With ``ReplyEnds`` (PostgreSQL's one statement), a later reply of a conversation ends through it, its
    budget alert with it from the threshold on; a conversation's first reply (its title is then asked for)
    and a failed reply (``ReplyFailed``) end in a unit of work as before, every charge counted once."""
    world = ChatWorld(one_statement_ends=True)
    ends = world.reply_ends
    assert ends is not None
    conversation = await world.conversation(model="offline/priced")
    costs = []
    for _ in range(3):
        world.model.script(Reply(tokens=("Bonjour", " le", " monde"), model="priced"))
        stored = await (await world.say("Say hello", conversation_id=conversation.id)).result()
        costs.append(stored.cost_micros)
    first, second, third = [m.id for m in world.db.chat.messages.values() if m.role.value == "assistant"]
    assert ends.ended == [second, third]  # the first asked for the title: a unit of work
    assert all(cost > 0 for cost in costs)
    assert events(world) == []

    spent_this_month(world, 4_000_000)  # 80 % of the free tier's budget with the next charge
    world.model.script(Reply(tokens=("Bonjour", " le", " monde"), model="priced"))
    stored = await (await world.say("Say hello", conversation_id=conversation.id)).result()
    assert ends.ended[-1] == stored.id
    ((kind, data),) = events(world)
    assert (kind, data["cost_micros"]) == ("UsageCharged", stored.cost_micros)
    assert world.db.chat.months[(world.me.user_id, month_start(world.clock.now()).date())] == (
        4_000_000 + stored.cost_micros
    )

    world.model.script(Reply(tokens=("partial", " answer", " lost"), fail_after=2, model="priced"))
    failed = await (await world.say("go", conversation_id=conversation.id)).outcome()
    assert failed.message is not None
    assert failed.message.id not in ends.ended
    assert {kind for kind, _ in events(world)} == {"UsageCharged", "ReplyFailed"}
    assert len(world.db.chat.usage) == 5  # each reply charged once, the failed one too
