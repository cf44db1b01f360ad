"""The events a reply records with its charge: ``UsageCharged`` for a priced reply, ``ReplyFailed`` when
it ends in an error (with or without text kept)."""

from __future__ import annotations

from typing import Any

from src.application.shared.events import DISPATCH_EVENT_JOB
from src.domain.llm.errors import ProviderUnavailable
from tests.fakes.chat import Reply
from tests.unit.chat.conftest import ChatWorld


def events(world: ChatWorld) -> list[tuple[str, dict[str, Any]]]:
    return [
        (m.payload["type"], m.payload["event"]) for m in world.db.outbox.values() if m.job_name == DISPATCH_EVENT_JOB
    ]


async def test_a_priced_reply_records_its_charge_and_nothing_else(world: ChatWorld) -> None:
    world.model.script(Reply(tokens=("Bonjour", " le", " monde"), model="priced"))
    handle = await world.say("Say hello", model="offline/priced")
    stored = await handle.result()
    ((kind, data),) = events(world)
    assert kind == "UsageCharged"
    assert data["cost_micros"] == stored.cost_micros > 0
    assert data["user_id"] == str(world.me.user_id)


async def test_a_reply_that_fails_after_writing_records_the_failure(world: ChatWorld) -> None:
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
