"""Conversations and messages: create, list, read, change, delete, export, page, regenerate; titles; usage."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from src.application.chat.delete_conversation import DeleteConversationCommand
from src.application.chat.export_conversation import ExportConversationQuery
from src.application.chat.get_conversation import GetConversationQuery
from src.application.chat.list_conversations import ListConversationsQuery
from src.application.chat.list_messages import ListMessagesQuery
from src.application.chat.regenerate_reply import RegenerateReplyCommand
from src.application.chat.title_conversation import TitleConversationCommand
from src.application.chat.update_conversation import UpdateConversationCommand
from src.application.usage.get_usage import GetUsageQuery
from src.application.usage.get_user_budget import GetUserBudgetQuery
from src.application.usage.set_user_budget import SetUserBudgetCommand
from src.domain.chat.errors import ConversationNotFound, InvalidExportFormat, NotLatestMessage
from src.domain.identity.errors import CannotChangeOwnAccess, Forbidden, UserNotFound
from src.domain.identity.model import Principal, Role
from src.domain.llm.errors import ProviderUnavailable
from src.domain.llm.model import FinishReason, MessageRole
from src.domain.usage.errors import InvalidBudget, InvalidUsageQuery
from tests.fakes.chat import Reply
from tests.unit.chat.conftest import ChatWorld, principal


async def test_a_conversation_starts_with_the_default_model_and_its_settings(world: ChatWorld) -> None:
    created = await world.conversation(title=" Trip ", system_prompt="Be brief.", temperature=0.3, knowledge=["travel"])
    assert (created.title, created.model, created.system_prompt, created.temperature) == (
        "Trip",
        "offline/echo",
        "Be brief.",
        0.3,
    )
    assert created.grounding is not None
    assert created.grounding.knowledge == ["travel"]
    assert await world.get(world.me, GetConversationQuery(created.id)) == created


async def test_lists_hold_only_ones_own_latest_activity_first(world: ChatWorld) -> None:
    older = await world.conversation(title="Older")
    world.clock.advance(5)
    newer = await world.conversation(title="Newer")
    await world.conversation(principal(), title="Someone else's")
    world.clock.advance(5)
    await world.exchange("bump", older.id)
    page = await world.list(world.me, ListConversationsQuery())
    assert [c.title for c in page.items] == ["Older", "Newer"]
    assert page.total == 2
    found = await world.list(world.me, ListConversationsQuery(query="NEW"))
    assert [c.id for c in found.items] == [newer.id]


async def test_archived_conversations_are_listed_apart(world: ChatWorld) -> None:
    kept = await world.conversation(title="Kept")
    gone = await world.conversation(title="Archived")
    await world.update(world.me, UpdateConversationCommand(gone.id, archived=True))
    assert [c.id for c in (await world.list(world.me, ListConversationsQuery())).items] == [kept.id]
    archived = await world.list(world.me, ListConversationsQuery(archived=True))
    assert [c.id for c in archived.items] == [gone.id]
    both = await world.list(world.me, ListConversationsQuery(archived=None))
    assert both.total == 2


async def test_only_the_fields_given_change_and_null_clears(world: ChatWorld) -> None:
    created = await world.conversation(title="Old", system_prompt="Be brief.", temperature=0.5)
    changed = await world.update(
        world.me, UpdateConversationCommand(created.id, title="New", model="offline/tiny", system_prompt=None)
    )
    assert (changed.title, changed.model, changed.system_prompt, changed.temperature) == (
        "New",
        "offline/tiny",
        None,
        0.5,
    )


async def test_someone_elses_conversation_cannot_be_read_changed_or_deleted(world: ChatWorld) -> None:
    created = await world.conversation(title="Mine")
    intruder = principal()
    with pytest.raises(ConversationNotFound):
        await world.get(intruder, GetConversationQuery(created.id))
    with pytest.raises(ConversationNotFound):
        await world.update(intruder, UpdateConversationCommand(created.id, title="Theirs"))
    with pytest.raises(ConversationNotFound):
        await world.delete(intruder, DeleteConversationCommand(created.id))
    with pytest.raises(ConversationNotFound):
        await world.export(intruder, ExportConversationQuery(created.id, "json"))
    with pytest.raises(ConversationNotFound):
        await world.list_messages(intruder, ListMessagesQuery(created.id))
    assert (await world.get(world.me, GetConversationQuery(created.id))).title == "Mine"


async def test_only_the_operator_exports_anyones_conversation(world: ChatWorld) -> None:
    created = await world.conversation(title="Mine")
    assert (await world.export(Principal.system(), ExportConversationQuery(created.id, "json"))).content
    # A user's principal that merely claims to come from the system is still only that user.
    posing = dataclasses.replace(principal(), via="system")
    with pytest.raises(ConversationNotFound):
        await world.export(posing, ExportConversationQuery(created.id, "json"))


async def test_deleting_removes_the_messages_but_not_what_they_cost(world: ChatWorld) -> None:
    world.model.script(Reply(model="priced"))
    created = await world.conversation(model="offline/priced")
    await world.exchange("hello", created.id)
    await world.delete(world.me, DeleteConversationCommand(created.id))
    assert world.messages == []
    assert created.id not in world.db.chat.conversations
    assert len(world.db.chat.usage) == 1
    assert world.db.chat.usage[0].cost_micros > 0


async def test_deleting_a_conversation_stops_its_reply(world: ChatWorld) -> None:
    world.model.script(Reply(pause_after=1))
    created = await world.conversation()
    handle = await world.say("hello", conversation_id=created.id)
    await asyncio.wait_for(world.model.paused.wait(), 5)
    await world.delete(world.me, DeleteConversationCommand(created.id))
    outcome = await handle.outcome()
    assert outcome.message is not None
    assert outcome.message.finish_reason is FinishReason.CANCELLED
    assert len(world.db.chat.usage) == 1  # the tokens used were spent


async def test_messages_page_newest_first_with_a_cursor(world: ChatWorld) -> None:
    created = await world.conversation()
    for i in range(3):
        await world.exchange(f"q{i}", created.id)
    first = await world.list_messages(world.me, ListMessagesQuery(created.id, limit=4))
    assert [m.content for m in first.items][:2] == ["Hello there, friend.", "q2"]
    assert (first.total, first.offset) == (6, 0)
    assert first.next_before == first.items[-1].id
    second = await world.list_messages(world.me, ListMessagesQuery(created.id, before=first.next_before, limit=4))
    assert [m.content for m in second.items] == ["Hello there, friend.", "q0"]
    assert (second.offset, second.next_before) == (4, None)


async def test_export_holds_every_message_as_json_or_markdown(world: ChatWorld) -> None:
    created = await world.conversation(title="Export me", system_prompt="Be kind.")
    await world.exchange("What is **markdown**?", created.id)
    as_json = await world.export(world.me, ExportConversationQuery(created.id, "json"))
    document = json.loads(as_json.content)
    assert document["conversation"]["title"] == "Export me"
    assert [m["role"] for m in document["messages"]] == ["user", "assistant"]
    assert as_json.filename.endswith(".json")
    assert as_json.media_type == "application/json"
    markdown = (await world.export(world.me, ExportConversationQuery(created.id, "markdown"))).content
    assert markdown.startswith("# Export me\n")
    assert "## System prompt\n\nBe kind." in markdown
    assert markdown.index("## You\n\nWhat is **markdown**?") < markdown.index("## Assistant\n\nHello there, friend.")
    with pytest.raises(InvalidExportFormat):
        await world.export(world.me, ExportConversationQuery(created.id, "pdf"))


async def test_regenerate_replaces_the_last_reply(world: ChatWorld) -> None:
    created = await world.conversation()
    first = await world.exchange("question", created.id)
    world.model.script(Reply(tokens=("A", " better", " answer")))
    handle = await world.regenerate(world.me, RegenerateReplyCommand(created.id, first.message_id))
    stored = await handle.result()
    assert [(m.role, m.content) for m in world.messages] == [
        (MessageRole.USER, "question"),
        (MessageRole.ASSISTANT, "A better answer"),
    ]
    assert stored.id != first.message_id
    assert world.model.requests[-1].messages[-1].content == "question"
    conversation = world.db.chat.conversations[created.id]
    assert conversation.token_total == sum(m.token_count for m in world.messages)
    assert len(world.db.chat.usage) == 2  # the replaced reply stays charged


async def test_regenerate_answers_a_message_left_without_a_reply(world: ChatWorld) -> None:
    world.model.script(Reply(error_before=ProviderUnavailable("down")), Reply())
    created = await world.conversation()
    failed = await world.say("are you there?", conversation_id=created.id)
    await failed.outcome()
    assert world.messages[0].error_code == "provider_unavailable"  # shown as unanswered
    handle = await world.regenerate(world.me, RegenerateReplyCommand(created.id, failed.user_message.id))
    assert (await handle.result()).content == "Hello there, friend."
    assert world.messages[0].error_code is None  # answered now: the mark is gone


async def test_only_the_latest_message_can_be_regenerated(world: ChatWorld) -> None:
    created = await world.conversation()
    first = await world.exchange("one", created.id)
    await world.exchange("two", created.id)
    with pytest.raises(NotLatestMessage):
        await world.regenerate(world.me, RegenerateReplyCommand(created.id, first.message_id))


async def test_the_title_of_an_offline_conversation_comes_from_its_first_message(world: ChatWorld) -> None:
    created = await world.conversation()
    await world.exchange("How do I bake sourdough bread without a starter?", created.id)
    async with world.events.subscribe(world.me.user_id) as events:
        result = await world.title(TitleConversationCommand(created.id))
        event = await asyncio.wait_for(anext(events), 1)
    assert (result.title, result.source) == ("How do I bake sourdough bread", "message")
    assert world.model.completed == 0
    assert (event.type, event.data) == ("title", {"conversation_id": str(created.id), "title": result.title})
    assert (await world.get(world.me, GetConversationQuery(created.id))).title == result.title
    assert (await world.title(TitleConversationCommand(created.id))).source == "skipped"


async def test_a_cheap_model_names_the_conversation_and_its_call_is_charged() -> None:
    world = ChatWorld(providers=("openai",))
    created = await world.conversation()
    await world.exchange("Plan a weekend in Lisbon for two", created.id)
    world.model.script(Reply(tokens=('"Lisbon', " Weekend", " Getaway", ' Plan"'), provider="openai", model="nano"))
    result = await world.title(TitleConversationCommand(created.id))
    assert (result.title, result.source) == ("Lisbon Weekend Getaway Plan", "model")
    assert world.model.requests[-1].model == "openai/nano"
    kinds = [r.kind.value for r in world.db.chat.usage]
    assert kinds == ["reply", "title"]


async def test_a_failing_title_model_falls_back_to_the_first_message() -> None:
    world = ChatWorld(providers=("openai",))
    created = await world.conversation()
    await world.exchange("Teach me chess openings", created.id)
    world.model.script(Reply(error_before=ProviderUnavailable("down")))
    result = await world.title(TitleConversationCommand(created.id))
    assert (result.title, result.source) == ("Teach me chess openings", "message")


async def test_a_rename_made_meanwhile_wins_over_the_automatic_title(world: ChatWorld) -> None:
    created = await world.conversation()
    await world.exchange("something", created.id)
    await world.update(world.me, UpdateConversationCommand(created.id, title="My own"))
    assert (await world.title(TitleConversationCommand(created.id))).source == "skipped"
    assert (await world.get(world.me, GetConversationQuery(created.id))).title == "My own"


async def test_usage_is_totalled_by_day_and_by_model(world: ChatWorld) -> None:
    world.model.script(Reply(model="priced"))
    created = await world.conversation(model="offline/priced")
    await world.exchange("one", created.id)
    world.clock.advance(86_400)
    world.model.script(Reply(model="echo"))
    await world.exchange("two", created.id, model="offline/echo")
    by_day = await world.usage(world.me, GetUsageQuery(group_by="day"))
    assert [b.requests for b in by_day.items] == [1, 1]
    assert by_day.items[0].key == "2026-01-01"
    assert by_day.totals.requests == 2
    by_model = await world.usage(world.me, GetUsageQuery(group_by="model"))
    assert [b.key for b in by_model.items] == ["offline/priced", "offline/echo"]
    assert by_model.budget.spent_micros == by_model.totals.cost_micros > 0
    assert (await world.usage(principal(), GetUsageQuery())).totals.requests == 0
    with pytest.raises(InvalidUsageQuery):
        await world.usage(world.me, GetUsageQuery(group_by="week"))


async def test_admins_set_and_clear_a_users_budget(world: ChatWorld) -> None:
    admin = principal(role=Role.ADMIN)
    world.add_user(world.me)
    view = await world.set_budget(admin, SetUserBudgetCommand(world.me.user_id, "0.50"))
    assert (view.status.budget_micros, view.status.custom) == (500_000, True)
    cleared = await world.set_budget(admin, SetUserBudgetCommand(world.me.user_id, None))
    assert (cleared.status.budget_micros, cleared.status.custom) == (5_000_000, False)
    with pytest.raises(Forbidden):
        await world.set_budget(world.me, SetUserBudgetCommand(world.me.user_id, "100"))
    with pytest.raises(UserNotFound):
        await world.set_budget(admin, SetUserBudgetCommand(principal().user_id, "1"))
    with pytest.raises(InvalidBudget):
        await world.set_budget(admin, SetUserBudgetCommand(world.me.user_id, "-3"))


async def test_an_admin_cannot_set_their_own_budget(world: ChatWorld) -> None:
    admin = principal(role=Role.ADMIN)
    world.add_user(admin)
    with pytest.raises(CannotChangeOwnAccess):
        await world.set_budget(admin, SetUserBudgetCommand(admin.user_id, "1000"))
    assert not (await world.get_budget(admin, GetUserBudgetQuery(admin.user_id))).status.custom
