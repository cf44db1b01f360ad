"""Grounded replies on the fakes: what the model is sent, which knowledge is used, the citations
stored, regenerating, switching grounding on and off, recovery and exports."""

from __future__ import annotations

import uuid
from datetime import timedelta

from src.application.chat.export_conversation import ExportConversationQuery
from src.application.chat.regenerate_reply import RegenerateReplyCommand
from src.application.chat.update_conversation import UpdateConversationCommand
from src.domain.chat.context import message_tokens
from src.domain.chat.grounding import GROUNDING_INSTRUCTIONS
from src.domain.chat.model import Message
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.model import Article, ArticleStatus, Paragraph, Visibility
from src.domain.knowledge.words import count_words
from src.domain.llm.model import ChatRequest, FinishReason, MessageRole
from tests.fakes.chat import Reply
from tests.unit.chat.conftest import ChatWorld, principal


def article(
    world: ChatWorld,
    author: Principal,
    title: str,
    body: str,
    *,
    tags: tuple[str, ...] = (),
    public: bool = False,
) -> Article:
    now = world.clock.now()
    written = Article.write(
        id=uuid.uuid4(),
        author_id=author.user_id,
        title=title,
        body=body,
        tags=tags,
        status=ArticleStatus.PUBLISHED if public else ArticleStatus.DRAFT,
        visibility=Visibility.PUBLIC if public else Visibility.PRIVATE,
        now=now,
    )
    world.db.knowledge.articles[written.id] = written
    world.clock.advance(1)
    return written


def paragraph(world: ChatWorld, content: str) -> Paragraph:
    """A fetched paragraph: stored, and its words counted (as ``FetchParagraph`` does)."""
    stored = Paragraph(id=uuid.uuid4(), content=content, created_at=world.clock.now())
    world.db.knowledge.paragraphs[stored.id] = stored
    world.db.knowledge.word_counts.update(count_words(content))
    return stored


def grounding_of(request: ChatRequest) -> str | None:
    """The passages' system message the model was sent, if any."""
    found = [m.content for m in request.messages if m.content.startswith(GROUNDING_INSTRUCTIONS)]
    assert len(found) <= 1
    return found[0] if found else None


async def test_a_grounded_reply_is_given_the_best_passages_and_stores_them_as_citations(world: ChatWorld) -> None:
    pasta = article(world, world.me, "Pasta", "Salt the pasta water well. Pasta likes salty water.", tags=("food",))
    boats = article(world, world.me, "Boats", "Boats float on water.")
    article(world, world.me, "Bikes", "Nothing relevant here.")
    lorem = paragraph(world, "A pasta paragraph that belongs to no one.")
    world.model.script(Reply(tokens=("Salt", " it", " well", " [1]", ".")))
    conversation = await world.conversation(system_prompt="Be brief.", knowledge=True)

    handle = await world.say("How should I salt the pasta water?", conversation_id=conversation.id)
    stored = await handle.result()

    request = world.model.requests[-1]
    assert request.messages[0].content == "Be brief."  # the conversation's system prompt still leads
    passages = grounding_of(request)
    assert passages is not None
    assert request.messages[1].content == passages
    assert request.messages[-1].content == "How should I salt the pasta water?"
    assert "[1] (article: Pasta)\nSalt the pasta water well. Pasta likes salty water." in passages
    assert "(paragraph)\nA pasta paragraph that belongs to no one." in passages
    assert "(article: Boats)\nBoats float on water." in passages
    assert "Bikes" not in passages
    citations = stored.citations
    assert [(c["n"], c["kind"], c["id"]) for c in citations] == [
        (1, "article", str(pasta.id)),
        (2, "paragraph", str(lorem.id)),
        (3, "article", str(boats.id)),
    ]
    assert citations[0]["title"] == "Pasta"
    assert citations[0]["snippet"].startswith("<mark>Salt</mark> the <mark>pasta</mark> <mark>water</mark> well")
    assert citations[1]["title"] is None
    assert [c["cited"] for c in citations] == [True, False, False]
    # The `done` event carries the same citations, and the row holds them.
    events = [e async for e in handle.events()]
    assert events[-1].kind == "done"
    assert events[-1].data["citations"] == [dict(c) for c in citations]
    assert world.db.chat.messages[stored.id].citations == citations


async def test_other_users_articles_are_never_passages_private_or_public(world: ChatWorld) -> None:
    stranger = principal()
    article(world, stranger, "Secret pasta", "The stranger's private pasta water trick.")
    article(world, stranger, "Public pasta", "The stranger's published public pasta water.", public=True)
    mine = article(world, world.me, "My pasta", "My own pasta water note.")
    conversation = await world.conversation(knowledge=True)
    stored = await (await world.say("pasta water", conversation_id=conversation.id)).result()
    assert [c["id"] for c in stored.citations] == [str(mine.id)]
    passages = grounding_of(world.model.requests[-1])
    assert passages is not None
    assert "stranger" not in passages


async def test_grounding_by_tags_uses_only_articles_carrying_one_of_them_and_no_paragraphs(world: ChatWorld) -> None:
    food = article(world, world.me, "Pasta", "pasta water", tags=("food",))
    trip = article(world, world.me, "Rome", "pasta in Rome", tags=("travel", "italy"))
    article(world, world.me, "Untagged pasta", "pasta water")
    article(world, world.me, "Work pasta", "pasta water", tags=("work",))
    paragraph(world, "pasta water paragraph")
    conversation = await world.conversation(knowledge=["food", "Italy"])
    stored = await (await world.say("pasta water", conversation_id=conversation.id)).result()
    assert {c["id"] for c in stored.citations} == {str(food.id), str(trip.id)}
    assert {c["kind"] for c in stored.citations} == {"article"}


async def test_paragraphs_are_searched_for_the_messages_rare_words_only(world: ChatWorld) -> None:
    rare = paragraph(world, "The pasta paragraph.")
    paragraph(world, "Only water here.")
    # "water" is everywhere among the paragraphs: searching for it would score nearly all of them.
    world.db.knowledge.word_counts["water"] += 100_000
    mine = article(world, world.me, "Notes", "water, water")
    conversation = await world.conversation(knowledge=True)
    stored = await (await world.say("pasta water", conversation_id=conversation.id)).result()
    # Your articles are still searched for every word; the paragraphs for the rare one only.
    assert {c["id"] for c in stored.citations} == {str(rare.id), str(mine.id)}
    # The snippet still marks every word of the message.
    assert "<mark>pasta</mark>" in next(c["snippet"] for c in stored.citations if c["id"] == str(rare.id))


async def test_a_message_that_matches_nothing_gets_no_passages(world: ChatWorld) -> None:
    article(world, world.me, "Pasta", "pasta water")
    conversation = await world.conversation(knowledge=True)
    for content in ("zebra quixotic?", "what is it that you do?"):  # no match; only stop words
        stored = await (await world.say(content, conversation_id=conversation.id)).result()
        assert stored.citations == ()
        assert grounding_of(world.model.requests[-1]) is None
        world.clock.advance(3)


async def test_an_ungrounded_conversation_is_sent_exactly_what_it_was_before(world: ChatWorld) -> None:
    article(world, world.me, "Pasta", "pasta water")
    conversation = await world.conversation(system_prompt="Be brief.")
    stored = await (await world.say("pasta water", conversation_id=conversation.id)).result()
    assert stored.citations == ()
    assert [m.content for m in world.model.requests[-1].messages] == ["Be brief.", "pasta water"]


async def test_grounding_is_switched_on_and_off_and_narrowed(world: ChatWorld) -> None:
    food = article(world, world.me, "Pasta", "pasta water", tags=("food",))
    other = article(world, world.me, "Pasta notes", "more pasta water")
    conversation = await world.conversation()
    assert (await world.exchange("pasta water", conversation.id)).conversation.grounding is None
    assert world.messages[-1].citations == ()

    updated = await world.update(world.me, UpdateConversationCommand(conversation.id, knowledge=True))
    assert updated.grounding is not None
    assert updated.grounding.knowledge is True
    await world.exchange("pasta water", conversation.id)
    assert {c["id"] for c in world.messages[-1].citations} == {str(food.id), str(other.id)}

    await world.update(world.me, UpdateConversationCommand(conversation.id, knowledge=["food"]))
    await world.exchange("pasta water", conversation.id)
    assert [c["id"] for c in world.messages[-1].citations] == [str(food.id)]

    off = await world.update(world.me, UpdateConversationCommand(conversation.id, knowledge=False))
    assert off.grounding is None
    await world.exchange("pasta water", conversation.id)
    assert world.messages[-1].citations == ()
    assert grounding_of(world.model.requests[-1]) is None


async def test_a_regenerated_reply_retrieves_again(world: ChatWorld) -> None:
    conversation = await world.conversation(knowledge=True)
    handle = await world.exchange("pasta water", conversation.id)
    first = await handle.result()
    assert first.citations == ()
    added = article(world, world.me, "Pasta", "pasta water, written since")
    again = await world.regenerate(world.me, RegenerateReplyCommand(conversation.id, first.id))
    second = await again.result()
    assert [c["id"] for c in second.citations] == [str(added.id)]
    assert grounding_of(world.model.requests[-1]) is not None


async def test_passages_give_way_to_the_history_in_a_small_window(world: ChatWorld) -> None:
    # offline/tiny: 200 - 50 = 150 tokens for the history and the passages together.
    article(world, world.me, "Pasta", "pasta " * 20)
    conversation = await world.conversation(model="offline/tiny", knowledge=True)
    stored = await (await world.say("pasta", conversation_id=conversation.id)).result()
    request = world.model.requests[-1]
    # The passage (about 100 tokens with the instructions) fits beside one short message...
    assert grounding_of(request) is not None
    assert len(stored.citations) == 1
    assert sum(message_tokens(m.content) for m in request.messages) <= 150
    for i in range(12):
        await world.exchange(f"message {i} about other things entirely", conversation.id)
    world.model.requests.clear()
    await (await world.say("pasta", conversation_id=conversation.id)).result()
    request = world.model.requests[-1]
    # ...but not beside a history that fills the window: the passages go, the history stays as it was.
    assert grounding_of(request) is None
    assert world.messages[-1].citations == ()
    assert len(request.messages) > 2
    assert sum(message_tokens(m.content) for m in request.messages) <= 150
    contents = [m.content for m in world.messages if m.conversation_id == conversation.id]
    assert [m.content for m in request.messages] == contents[-len(request.messages) - 1 : -1]


async def test_a_user_without_knowledge_access_gets_no_passages(world: ChatWorld) -> None:
    reader = principal()
    limited = Principal(
        user_id=reader.user_id,
        email=reader.email,
        role=reader.role,
        tier=reader.tier,
        permissions=reader.permissions - {Permission.KNOWLEDGE_READ},
    )
    article(world, limited, "Pasta", "pasta water")
    conversation = await world.conversation(limited, knowledge=True)
    stored = await (await world.say("pasta water", conversation_id=conversation.id, who=limited)).result()
    assert stored.citations == ()


async def test_an_interrupted_reply_keeps_its_citations_marked_from_its_text(world: ChatWorld) -> None:
    pasta = article(world, world.me, "Pasta", "pasta water")
    conversation = await world.conversation(knowledge=True)
    now = world.clock.now()
    reply_id = uuid.uuid4()
    citations = ({"n": 1, "kind": "article", "id": str(pasta.id), "title": "Pasta", "snippet": "x", "cited": False},)
    async with world.uow() as tx:
        found = await tx.conversations.get(conversation.id)
        assert found is not None
        claim = await tx.conversations.claim_reply(
            conversation.id, reply_id, seqs=2, token_delta=5, now=now, lease_until=now + timedelta(seconds=30)
        )
        assert claim is not None
        user_message = Message.from_user(
            id=uuid.uuid4(),
            conversation=found,
            seq=claim.first_seq,
            content="pasta water",
            token_count=5,
            model="offline/echo",
            now=now,
        )
        await tx.messages.add(user_message)
        await tx.messages.add(
            Message.placeholder_reply(
                id=reply_id,
                conversation=found,
                seq=claim.first_seq + 1,
                model="offline/echo",
                now=now,
                citations=citations,
            )
        )
        await tx.messages.save_progress(reply_id, content="Salt it [1] and", last_event_id=3, now=now)
    world.clock.advance(31)
    assert (await world.recover()).recovered == 1
    stored = world.db.chat.messages[reply_id]
    assert (stored.finish_reason, stored.error_code) == (FinishReason.ERROR, "interrupted")
    assert [c["cited"] for c in stored.citations] == [True]


async def test_the_markdown_export_lists_each_replys_sources(world: ChatWorld) -> None:
    article(world, world.me, "Pasta", "pasta water")
    paragraph(world, "a pasta paragraph")
    world.model.script(Reply(tokens=("Use", " salt", " [2]", ".")))
    conversation = await world.conversation(knowledge=True)
    await world.exchange("pasta water", conversation.id)
    exported = await world.export(world.me, ExportConversationQuery(conversation.id, "markdown"))
    # The article ranks first (its title matches too); the reply cites the paragraph.
    assert "Use salt [2].\n\nSources:\n\n- [1] Pasta (article) (not cited)\n- [2] paragraph\n" in exported.content
    as_json = await world.export(world.me, ExportConversationQuery(conversation.id, "json"))
    reply = next(m for m in as_json.export.messages if m.role is MessageRole.ASSISTANT)
    assert len(reply.citations) == 2
    assert '"citations": [' in as_json.content
