"""Chat and usage repositories on SQLite and PostgreSQL: the reply lock, exactly-once finishing, the
context-window query, usage totals, budgets and message search."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from src.application.usage.budget import UnitOfWorkBudgetReader
from src.application.usage.ports import NO_API_KEY
from src.domain.chat.context import context_threshold, message_tokens
from src.domain.chat.model import Conversation, Message, MessageStatus
from src.domain.identity.model import Role, Tier, User
from src.domain.llm.model import FinishReason, Usage
from src.domain.usage.model import UsageKind, UsageRecord
from src.infrastructure.persistence.budget_repositories import SqlBudgetReader
from src.infrastructure.persistence.database import build_database_config
from src.infrastructure.persistence.reply_end import SqlReplyEnds
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.settings import Settings

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
async def uow(migrated_settings: Settings) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    config = build_database_config(migrated_settings)
    yield SqlAlchemyUnitOfWorkFactory.for_database(config)
    await config.get_engine().dispose()


async def a_user(uow: SqlAlchemyUnitOfWorkFactory) -> uuid.UUID:
    user_id = uuid.uuid4()
    async with uow() as tx:
        await tx.users.add(
            User(
                id=user_id,
                email=f"{user_id.hex[:12]}@example.com",
                display_name="User",
                password_hash="x",
                role=Role.CREATOR,
                tier=Tier.FREE,
                is_active=True,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    return user_id


async def a_conversation(uow: SqlAlchemyUnitOfWorkFactory, user_id: uuid.UUID, **kwargs: object) -> Conversation:
    conversation = Conversation.start(id=uuid.uuid4(), user_id=user_id, model="offline/echo", now=NOW, **kwargs)  # type: ignore[arg-type]
    async with uow() as tx:
        await tx.conversations.add(conversation)
    return conversation


async def append(uow: SqlAlchemyUnitOfWorkFactory, conversation: Conversation, contents: list[str]) -> list[Message]:
    """Store complete user messages the way SendMessage does (claim, insert, release)."""
    stored = []
    async with uow() as tx:
        for content in contents:
            tokens = message_tokens(content)
            marker = uuid.uuid4()
            claim = await tx.conversations.claim_reply(
                conversation.id, marker, seqs=1, token_delta=tokens, now=NOW, lease_until=NOW + timedelta(seconds=30)
            )
            assert claim is not None
            message = Message.from_user(
                id=uuid.uuid4(),
                conversation=conversation,
                seq=claim.first_seq,
                content=content,
                token_count=tokens,
                model="offline/echo",
                now=NOW,
            )
            message.token_start = claim.token_total - tokens
            await tx.messages.add(message)
            await tx.conversations.release_reply(conversation.id, marker, token_total=None, now=NOW)
            stored.append(message)
    return stored


async def test_a_conversation_round_trips_and_lists_by_activity(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    owner = await a_user(uow)
    first = await a_conversation(uow, owner, title="100% _literal_ title", system_prompt="Be brief.")
    second = await a_conversation(uow, owner, title="Other")
    async with uow() as tx:
        second.last_activity_at = NOW + timedelta(minutes=1)
        await tx.conversations.claim_reply(
            second.id, uuid.uuid4(), seqs=1, token_delta=0, now=NOW + timedelta(minutes=1), lease_until=NOW
        )
    async with uow(read_only=True) as tx:
        assert await tx.conversations.get(first.id, user_id=owner) == first
        assert await tx.conversations.get(first.id, user_id=uuid.uuid4()) is None
        found, total = await tx.conversations.list_for_user(owner, query=None, archived=False, limit=10, offset=0)
        assert [c.id for c in found] == [second.id, first.id]
        assert total == 2
        # LIKE wildcards in the search text match themselves only.
        found, total = await tx.conversations.list_for_user(owner, query="0% _l", archived=None, limit=10, offset=0)
        assert [c.id for c in found] == [first.id]
        assert total == 1
        found, _ = await tx.conversations.list_for_user(owner, query="_x", archived=None, limit=10, offset=0)
        assert found == []


async def test_one_claim_wins_and_an_expired_lease_can_be_taken_over(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    conversation = await a_conversation(uow, await a_user(uow))
    lease = NOW + timedelta(seconds=30)

    async def claim(message_id: uuid.UUID, now: datetime) -> object:
        async with uow() as tx:
            return await tx.conversations.claim_reply(
                conversation.id, message_id, seqs=2, token_delta=5, now=now, lease_until=now + timedelta(seconds=30)
            )

    results = await asyncio.gather(*(claim(uuid.uuid4(), NOW) for _ in range(5)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert await claim(uuid.uuid4(), lease - timedelta(seconds=1)) is None
    taken = await claim(uuid.uuid4(), lease)
    assert taken is not None
    assert (taken.first_seq, taken.token_total) == (3, 10)  # type: ignore[attr-defined]


async def test_only_the_holder_renews_or_releases_the_lock(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    conversation = await a_conversation(uow, await a_user(uow))
    holder, stranger = uuid.uuid4(), uuid.uuid4()
    async with uow() as tx:
        await tx.conversations.claim_reply(
            conversation.id, holder, seqs=1, token_delta=0, now=NOW, lease_until=NOW + timedelta(seconds=30)
        )
        assert not await tx.conversations.renew_reply(conversation.id, stranger, lease_until=NOW)
        assert await tx.conversations.renew_reply(conversation.id, holder, lease_until=NOW + timedelta(minutes=5))
        assert not await tx.conversations.release_reply(conversation.id, stranger, token_total=1, now=NOW)
        assert await tx.conversations.release_reply(conversation.id, holder, token_total=42, now=NOW)
    async with uow(read_only=True) as tx:
        stored = await tx.conversations.get(conversation.id)
    assert stored is not None
    assert stored.generating_message_id is None
    assert stored.token_total == 42


async def test_a_reply_is_finished_once_and_its_progress_only_while_generating(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    conversation = await a_conversation(uow, await a_user(uow))
    reply = Message.placeholder_reply(id=uuid.uuid4(), conversation=conversation, seq=1, model="offline/echo", now=NOW)
    async with uow() as tx:
        await tx.messages.add(reply)
        assert await tx.messages.save_progress(reply.id, content="so far", last_event_id=3, now=NOW)
    done = Message(
        id=reply.id,
        conversation_id=conversation.id,
        user_id=conversation.user_id,
        seq=1,
        role=reply.role,
        content="so far and the rest",
        status=MessageStatus.COMPLETE,
        created_at=NOW,
        updated_at=NOW,
        model="offline/echo",
        provider="offline",
        finish_reason=FinishReason.STOP,
        usage=Usage(input_tokens=3, output_tokens=5),
        cost_micros=7,
        latency_ms=10,
        ttft_ms=2,
        token_start=0,
        token_count=9,
        last_event_id=8,
    )

    async def finish() -> bool:
        async with uow() as tx:
            return await tx.messages.finish(done)

    assert sorted(await asyncio.gather(finish(), finish(), finish())) == [False, False, True]
    async with uow() as tx:
        assert not await tx.messages.save_progress(reply.id, content="late", last_event_id=9, now=NOW)
        stored = await tx.messages.get(reply.id)
    assert stored is not None
    assert (stored.content, stored.status, stored.usage, stored.cost_micros, stored.last_event_id) == (
        "so far and the rest",
        MessageStatus.COMPLETE,
        Usage(input_tokens=3, output_tokens=5),
        7,
        8,
    )


async def test_finishing_a_reply_releases_its_conversation_only_for_the_winner(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    conversation = await a_conversation(uow, await a_user(uow))
    reply = Message.placeholder_reply(id=uuid.uuid4(), conversation=conversation, seq=1, model="offline/echo", now=NOW)
    later = NOW + timedelta(seconds=5)
    async with uow() as tx:
        claim = await tx.conversations.claim_reply(
            conversation.id, reply.id, seqs=2, token_delta=4, now=NOW, lease_until=NOW + timedelta(minutes=1)
        )
        await tx.messages.add(reply)
    assert claim is not None
    done = dataclasses.replace(
        reply, content="all of it", status=MessageStatus.COMPLETE, finish_reason=FinishReason.STOP, token_count=3
    )

    async def finish() -> bool:
        async with uow() as tx:
            return await tx.messages.finish_and_release(done, token_total=claim.token_total + 3, now=later)

    assert sorted(await asyncio.gather(finish(), finish(), finish())) == [False, False, True]
    async with uow(read_only=True) as tx:
        stored, freed = await tx.messages.get(reply.id), await tx.conversations.get(conversation.id)
    assert stored is not None
    assert (stored.content, stored.status) == ("all of it", MessageStatus.COMPLETE)
    assert freed is not None
    assert (freed.generating_message_id, freed.generating_until) == (None, None)
    assert (freed.token_total, freed.last_activity_at) == (claim.token_total + 3, later)

    # A finisher that loses leaves the conversation's lock alone (here held for the next reply).
    nxt = Message.placeholder_reply(id=uuid.uuid4(), conversation=conversation, seq=3, model="offline/echo", now=NOW)
    async with uow() as tx:
        assert await tx.conversations.claim_reply(
            conversation.id, nxt.id, seqs=2, token_delta=1, now=later, lease_until=later + timedelta(minutes=1)
        )
    assert not await finish()
    async with uow(read_only=True) as tx:
        held = await tx.conversations.get(conversation.id)
    assert held is not None
    assert held.generating_message_id == nxt.id


async def test_a_user_message_is_marked_unanswered_and_cleared_and_a_reply_never(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    conversation = await a_conversation(uow, await a_user(uow))
    (question,) = await append(uow, conversation, ["anyone there?"])
    reply = Message.placeholder_reply(id=uuid.uuid4(), conversation=conversation, seq=2, model="offline/echo", now=NOW)
    async with uow() as tx:
        await tx.messages.add(reply)
        await tx.messages.mark_unanswered(question.id, "provider_unavailable")
        await tx.messages.mark_unanswered(reply.id, "provider_unavailable")  # not a user message: untouched
    async with uow(read_only=True) as tx:
        marked, untouched = await tx.messages.get(question.id), await tx.messages.get(reply.id)
    assert marked is not None
    assert marked.error_code == "provider_unavailable"
    assert untouched is not None
    assert untouched.error_code is None
    async with uow() as tx:
        await tx.messages.mark_unanswered(question.id, None)
    async with uow(read_only=True) as tx:
        cleared = await tx.messages.get(question.id)
    assert cleared is not None
    assert cleared.error_code is None


@pytest.fixture
def loaded_messages(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many message rows the repository turned into messages (one per row a query returned),
    whether ORM entities or Core rows."""
    from src.infrastructure.persistence import message_repository

    loads: list[int] = []
    for name in ("message_of", "prompt_message_of"):
        mapping = getattr(message_repository, name)

        def counting(row: object, mapping: Callable[[object], object] = mapping) -> object:
            loads.append(1)
            return mapping(row)

        monkeypatch.setattr(message_repository, name, counting)
    return loads


async def test_the_context_query_reads_only_the_messages_that_fit(
    uow: SqlAlchemyUnitOfWorkFactory, loaded_messages: list[int]
) -> None:
    conversation = await a_conversation(uow, await a_user(uow))
    contents = [f"message {i}: " + "word " * (i % 5 + 3) for i in range(1500)]
    await append(uow, conversation, contents)
    async with uow(read_only=True) as tx:
        current = await tx.conversations.get(conversation.id)
        assert current is not None
        budget = 200
        loaded_messages.clear()
        context = await tx.messages.context(
            conversation.id,
            min_token_start=context_threshold(token_total=current.token_total, budget=budget),
            up_to_seq=current.next_seq,
        )
    expected: list[str] = []
    used = 0
    for content in reversed(contents):
        if used + message_tokens(content) > budget:
            break
        expected.insert(0, content)
        used += message_tokens(content)
    assert [m.content for m in context] == expected
    assert len(loaded_messages) == len(expected) < 30  # of 1,500 in the conversation


async def test_pages_run_newest_first_by_seq(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    conversation = await a_conversation(uow, await a_user(uow))
    await append(uow, conversation, [f"m{i}" for i in range(5)])
    async with uow(read_only=True) as tx:
        first = await tx.messages.page(conversation.id, before_seq=None, limit=2)
        older = await tx.messages.page(conversation.id, before_seq=first[-1].seq, limit=10)
        assert [m.content for m in first] == ["m4", "m3"]
        assert [m.content for m in older] == ["m2", "m1", "m0"]
        assert [m.content for m in await tx.messages.head(conversation.id, after_seq=3, limit=10)] == ["m3", "m4"]
        assert (await tx.messages.latest(conversation.id)).content == "m4"  # type: ignore[union-attr]
        assert await tx.messages.count(conversation.id) == 5
        assert await tx.messages.count(conversation.id, after_seq=3) == 2


async def test_deleting_a_conversation_deletes_its_messages(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    conversation = await a_conversation(uow, await a_user(uow))
    stored = await append(uow, conversation, ["a", "b"])
    async with uow() as tx:
        await tx.conversations.delete(conversation.id)
    async with uow(read_only=True) as tx:
        assert await tx.conversations.get(conversation.id) is None
        assert await tx.messages.get(stored[0].id) is None


def record(user_id: uuid.UUID, *, cost: int, model: str, at: datetime) -> UsageRecord:
    return UsageRecord(
        id=uuid.uuid4(),
        user_id=user_id,
        kind=UsageKind.REPLY,
        model=model,
        provider=model.split("/")[0],
        usage=Usage(input_tokens=10, output_tokens=20, cached_tokens=1, reasoning_tokens=2),
        cost_micros=cost,
        created_at=at,
        conversation_id=uuid.uuid4(),
        message_id=uuid.uuid4(),
    )


async def test_usage_adds_up_per_month_and_groups_by_day_or_model(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    owner, other = await a_user(uow), await a_user(uow)

    async def add(r: UsageRecord) -> None:
        async with uow() as tx:
            await tx.usage.record(r)

    await asyncio.gather(
        add(record(owner, cost=100, model="openai/a", at=NOW)),
        add(record(owner, cost=250, model="openai/b", at=NOW + timedelta(days=1))),
        add(record(owner, cost=50, model="openai/a", at=NOW + timedelta(days=1))),
    )
    await add(record(owner, cost=999, model="openai/a", at=NOW + timedelta(days=30)))  # next month
    await add(record(other, cost=7, model="openai/a", at=NOW))
    async with uow(read_only=True) as tx:
        month = datetime(2026, 6, 1, tzinfo=UTC)
        assert await tx.usage.spent_in_month(owner, month) == 400
        assert await tx.usage.spent_in_month(owner, datetime(2026, 7, 1, tzinfo=UTC)) == 999
        by_day = await tx.usage.summarize(owner, start=date(2026, 6, 1), end=date(2026, 6, 30), group_by="day")
        assert [(b.key, b.requests, b.cost_micros, b.output_tokens) for b in by_day] == [
            ("2026-06-15", 1, 100, 20),
            ("2026-06-16", 2, 300, 40),
        ]
        by_model = await tx.usage.summarize(owner, start=date(2026, 6, 1), end=date(2026, 7, 31), group_by="model")
        assert [(b.key, b.cost_micros) for b in by_model] == [("openai/a", 1149), ("openai/b", 250)]


async def test_batches_of_usage_in_opposite_orders_wait_for_each_other_without_deadlock(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    """Every call of a model on a day adds to one ``usage_daily_model`` row: a batch takes those rows'
    locks in key order, so a batch (the ledger's) holding one never waits for another batch holding the
    next while that one waits for it."""
    from sqlalchemy import text

    first, second = await a_user(uow), await a_user(uow)

    def call(user_id: uuid.UUID, model: str) -> UsageRecord:
        return record(user_id, cost=1, model=model, at=NOW)

    async def batch(records: list[UsageRecord]) -> None:
        async with uow() as tx:
            await tx.usage.record_many(records)

    async def waiting_on_a_lock() -> bool:
        async with uow(read_only=True) as tx:
            waiting = await tx.session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
        return bool(waiting)

    async with uow() as tx:
        if tx.session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite has one writer at a time: no row locks to wait on")
        await tx.usage.record_many([call(first, "openai/a")])  # holds the day's row of model a
        # The other batch lists model b first: it must wait for a without holding b.
        other = asyncio.ensure_future(batch([call(second, "openai/b"), call(second, "openai/a")]))
        for _ in range(1000):  # until it waits (a bound, not a timing: it fails the test if never)
            if await waiting_on_a_lock():
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the other batch never waited for the row of model a")
        await tx.usage.record_many([call(first, "openai/b")])
    await other
    async with uow(read_only=True) as tx:
        rows = await tx.session.execute(text("SELECT model, requests FROM usage_daily_model ORDER BY model"))
        assert [(model, int(n)) for model, n in rows] == [("openai/a", 2), ("openai/b", 2)]


async def test_usage_groups_by_the_api_key_it_was_made_with(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    owner = await a_user(uow)
    first_key, second_key = uuid.uuid4(), uuid.uuid4()
    async with uow() as tx:
        for cost, key in ((100, first_key), (30, first_key), (250, second_key), (5, None)):
            made = dataclasses.replace(record(owner, cost=cost, model="openai/a", at=NOW), api_key_id=key)
            await tx.usage.record(dataclasses.replace(made, kind=UsageKind.COMPLETION))
    async with uow(read_only=True) as tx:
        by_key = await tx.usage.summarize(owner, start=date(2026, 6, 1), end=date(2026, 6, 30), group_by="api_key")
        assert await tx.usage.spent_in_month(owner, datetime(2026, 6, 1, tzinfo=UTC)) == 385
    assert [(b.key, b.requests, b.cost_micros) for b in by_key] == [
        (str(second_key), 1, 250),
        (str(first_key), 2, 130),
        (NO_API_KEY, 1, 5),
    ]


async def test_a_users_own_budget_is_set_changed_and_removed(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    owner = await a_user(uow)
    async with uow() as tx:
        assert await tx.budgets.get(owner) is None
        await tx.budgets.set(owner, 5_000, now=NOW)
        await tx.budgets.set(owner, 7_000, now=NOW)
    async with uow() as tx:
        assert await tx.budgets.get(owner) == 7_000
        await tx.budgets.set(owner, None, now=NOW)
    async with uow(read_only=True) as tx:
        assert await tx.budgets.get(owner) is None


async def test_search_finds_a_users_own_complete_messages_only(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    owner, other = await a_user(uow), await a_user(uow)
    mine = await a_conversation(uow, owner, title="Baking")
    theirs = await a_conversation(uow, other)
    stored = await append(uow, mine, ["How long does sourdough proof?", "Tell me about rye bread", "Unrelated"])
    await append(uow, theirs, ["sourdough secrets of another user"])
    generating = Message.placeholder_reply(id=uuid.uuid4(), conversation=mine, seq=99, model="offline/echo", now=NOW)
    async with uow() as tx:
        await tx.messages.add(generating)
        await tx.messages.save_progress(generating.id, content="sourdough in progress", last_event_id=1, now=NOW)
    async with uow(read_only=True) as tx:
        hits, total = await tx.messages.search(owner, "SOURDOUGH", limit=10, offset=0)
        assert [h.message.id for h in hits] == [stored[0].id]
        assert total == 1
        assert hits[0].conversation_title == "Baking"
        hits, total = await tx.messages.search(owner, "rye bread", limit=10, offset=0)
        assert [h.message.id for h in hits] == [stored[1].id]
        assert (await tx.messages.search(owner, 'sourdough" OR "unrelated', limit=10, offset=0))[1] == 0
        assert await tx.messages.search(owner, "!!!", limit=10, offset=0) == ([], 0)
    async with uow() as tx:
        await tx.messages.delete(stored[0].id)
    async with uow(read_only=True) as tx:
        assert (await tx.messages.search(owner, "sourdough", limit=10, offset=0))[1] == 0


async def test_search_can_match_any_of_the_words(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    owner = await a_user(uow)
    conversation = await a_conversation(uow, owner)
    stored = await append(uow, conversation, ["apples are red", "bananas are yellow", "cherries too"])
    async with uow(read_only=True) as tx:
        hits, total = await tx.messages.search(owner, "apples bananas", limit=10, offset=0, any_word=True)
        assert {h.message.id for h in hits} == {stored[0].id, stored[1].id}
        assert total == 2
        assert (await tx.messages.search(owner, "apples bananas", limit=10, offset=0))[1] == 0


async def test_the_context_cap_and_summary_switch_round_trip(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    conversation = await a_conversation(uow, await a_user(uow))
    async with uow(read_only=True) as tx:
        fresh = await tx.conversations.get(conversation.id)
    assert fresh is not None
    assert (fresh.context_tokens, fresh.summarize, fresh.summary, fresh.summary_token_end) == (None, True, None, 0)
    fresh.change_context_tokens(4000, context_window=8192, now=NOW)
    fresh.change_summarize(False, now=NOW)
    async with uow() as tx:
        await tx.conversations.save(fresh)
    async with uow(read_only=True) as tx:
        again = await tx.conversations.get(conversation.id)
    assert again is not None
    assert (again.context_tokens, again.summarize) == (4000, False)


async def test_the_turns_that_fell_out_are_read_as_an_index_range_and_summarised_once(
    uow: SqlAlchemyUnitOfWorkFactory, loaded_messages: list[int]
) -> None:
    conversation = await a_conversation(uow, await a_user(uow))
    stored = await append(uow, conversation, [f"turn {i} about the trip" for i in range(300)])
    below = stored[40].token_start
    assert below is not None
    async with uow(read_only=True) as tx:
        loaded_messages.clear()
        turns = await tx.messages.turns_between(
            conversation.id, min_token_start=stored[10].token_start or 0, below_token_start=below, limit=20
        )
    assert [t.id for t in turns] == [m.id for m in stored[10:30]]
    assert len(loaded_messages) == 20  # of 300
    later = NOW + timedelta(minutes=1)
    async with uow() as tx:
        assert await tx.conversations.mark_summary_requested(conversation.id, now=NOW, retry_before=NOW)
        # Queued a minute ago, presumed lost only after ten.
        assert not await tx.conversations.mark_summary_requested(
            conversation.id, now=later, retry_before=later - timedelta(minutes=10)
        )
    end = (turns[-1].token_start or 0) + turns[-1].token_count
    async with uow() as tx:
        won = await tx.conversations.store_summary(
            conversation.id, summary="A trip.", token_end=end, through_id=turns[-1].id, previous_token_end=0, now=later
        )
        lost = await tx.conversations.store_summary(
            conversation.id, summary="Other.", token_end=end, through_id=turns[-1].id, previous_token_end=0, now=later
        )
    assert (won, lost) == (True, False)
    async with uow() as tx:
        current = await tx.conversations.get(conversation.id)
        # Storing ended the request: the next one may be queued at once.
        assert await tx.conversations.mark_summary_requested(
            conversation.id, now=later, retry_before=later - timedelta(minutes=10)
        )
        await tx.conversations.clear_summary_request(conversation.id)
    assert current is not None
    assert (current.summary, current.summary_token_end, current.summary_through_id) == ("A trip.", end, turns[-1].id)
    assert current.summary_updated_at == later
    assert current.summary_requested_at is None


async def test_the_budget_reader_reads_the_budget_and_the_months_spending_in_one_statement(
    migrated_settings: Settings,
) -> None:
    config = build_database_config(migrated_settings)
    uow = SqlAlchemyUnitOfWorkFactory.for_database(config)
    reader = SqlBudgetReader(config.get_engine())
    june, july = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    try:
        owner, other = await a_user(uow), await a_user(uow)
        assert await reader.standing(owner, june) == (None, 0)
        async with uow() as tx:
            await tx.budgets.set(owner, 5_000, now=NOW)
            await tx.usage.record(record(owner, cost=400, model="openai/a", at=NOW))
            await tx.usage.record(record(other, cost=7, model="openai/a", at=NOW))
        assert await reader.standing(owner, june) == (5_000, 400)
        assert await reader.standing(owner, july) == (5_000, 0)
        assert await reader.standing(other, june) == (None, 7)
        # The same figures the repositories read in a unit of work (the reader the use cases default to).
        assert await UnitOfWorkBudgetReader(uow).standing(owner, june) == (5_000, 400)
    finally:
        await config.get_engine().dispose()


def _comparable(value: object) -> object:
    """A column's value alike on both databases: a date as text, a JSON histogram as a dict."""
    if isinstance(value, date):
        return value.isoformat()
    return json.loads(value) if isinstance(value, str) and value.startswith("{") else value


async def rollups(uow: SqlAlchemyUnitOfWorkFactory, user_id: uuid.UUID) -> dict[str, list[tuple[object, ...]]]:
    """The running totals of ``user_id`` (and every model's day rows), as comparable tuples."""
    from sqlalchemy import bindparam, text

    from src.infrastructure.persistence.orm import GUID

    queries = {
        "month": "SELECT month, cost_micros, requests FROM usage_month WHERE user_id = :u ORDER BY month",
        "daily": "SELECT usage_date, provider, model, requests, input_tokens, output_tokens, cached_tokens, "
        "reasoning_tokens, cost_micros, errors, fallbacks, latency_histogram, ttft_histogram FROM usage_daily "
        "WHERE user_id = :u ORDER BY usage_date, model",
        "model": "SELECT usage_date, provider, model, with_api_key, requests, latency_histogram, ttft_histogram "
        "FROM usage_daily_model ORDER BY usage_date, model, with_api_key",
        "records": "SELECT count(*), sum(cost_micros) FROM usage_record WHERE user_id = :u",
    }
    async with uow(read_only=True) as tx:
        found: dict[str, list[tuple[object, ...]]] = {}
        for name, query in queries.items():
            statement = text(query)
            if ":u" in query:
                statement = statement.bindparams(bindparam("u", type_=GUID()))
            rows = await tx.session.execute(statement, {"u": user_id})
            found[name] = [tuple(_comparable(value) for value in row) for row in rows]
        return found


def driver_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every statement run on the driver from now on, in order."""
    from src.infrastructure.persistence import driver

    statements: list[str] = []
    on = driver._on

    async def counted(timer: object, connection: object, compiled: driver._Compiled, arguments: list[object]):  # type: ignore[no-untyped-def]
        statements.append(compiled.sql)
        return await on(timer, connection, compiled, arguments)

    monkeypatch.setattr(driver, "_on", counted)
    return statements


async def engine_of(uow: SqlAlchemyUnitOfWorkFactory) -> AsyncEngine:
    """The engine ``uow``'s sessions are opened on."""
    async with uow(read_only=True) as tx:
        return AsyncEngine(tx.session.get_bind())  # type: ignore[arg-type]


async def test_a_single_record_adds_to_its_running_totals_as_a_batch_does(
    uow: SqlAlchemyUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply charges one record: on PostgreSQL the record and its three running totals are written by one
    statement (one round trip) that gives the month's new total, adding exactly what the batch statements
    add, histograms included."""

    statements = driver_statements(monkeypatch)

    def timed(user_id: uuid.UUID, cost: int, model: str, at: datetime, **kwargs: object) -> UsageRecord:
        return dataclasses.replace(record(user_id, cost=cost, model=model, at=at), **kwargs)  # type: ignore[arg-type]

    def calls(user_id: uuid.UUID) -> list[UsageRecord]:
        return [
            timed(user_id, 100, "openai/a", NOW, latency_ms=120, ttft_ms=40),
            timed(user_id, 30, "openai/a", NOW, latency_ms=900, error_code="provider_error", fallback=True),
            timed(user_id, 7, "openai/b", NOW + timedelta(days=1), api_key_id=uuid.uuid4(), ttft_ms=5),
            timed(user_id, 11, "openai/a", NOW + timedelta(days=30)),
        ]

    one_by_one, batched = await a_user(uow), await a_user(uow)
    totals = []
    for made in calls(one_by_one):
        statements.clear()
        async with uow() as tx:
            totals.append(await tx.usage.record_and_total(made))
            if tx.session.get_bind().dialect.name == "postgresql":
                assert len(statements) == 1
    assert totals == [100, 130, 137, 11]  # the month's spending, each record included
    singles = await rollups(uow, one_by_one)
    async with uow() as tx:
        await tx.usage.record_many(calls(batched))
    both = await rollups(uow, batched)
    assert singles["month"] == both["month"] == [("2026-06-01", 137, 3), ("2026-07-01", 11, 1)]
    assert singles["daily"] == both["daily"]
    assert singles["records"] == both["records"] == [(4, 148)]
    assert singles["daily"][0][3:11] == (2, 20, 40, 2, 4, 130, 1, 1)
    latency, ttft = singles["daily"][0][11:]
    assert (sum(latency.values()), sum(ttft.values())) == (2, 1)  # type: ignore[attr-defined]
    # The model's day rows are everyone's: each of them counted twice, once per user.
    assert [row[4] for row in both["model"]] == [4, 2, 2]


async def test_concurrent_replies_of_one_user_finishing_at_once_add_up_exactly(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    """Replies of one user (two models) charged at the same moment, each in its own transaction: every
    record and every running total counts each of them once, without a deadlock."""
    owner = await a_user(uow)

    async def charge(index: int) -> None:
        async with uow() as tx:
            await tx.usage.record(record(owner, cost=index + 1, model=f"openai/{'ab'[index % 2]}", at=NOW))

    await asyncio.wait_for(asyncio.gather(*(charge(i) for i in range(24))), 60)
    found = await rollups(uow, owner)
    assert found["records"] == [(24, sum(range(1, 25)))]
    assert found["month"] == [("2026-06-01", sum(range(1, 25)), 24)]
    assert [(row[2], row[3], row[8]) for row in found["daily"]] == [
        ("openai/a", 12, sum(range(1, 25, 2))),
        ("openai/b", 12, sum(range(2, 25, 2))),
    ]
    assert [(row[2], row[4]) for row in found["model"]] == [("openai/a", 12), ("openai/b", 12)]


async def test_a_single_record_locks_its_month_before_the_models_day_row(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    """The one-statement charge takes its row locks in the batches' order (the month, the user's day, the
    model's day): waiting for the model's day row, which every user's calls share, it already holds its
    month's row, as a batch would, so the two never wait for each other in a cycle."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    owner = await a_user(uow)
    async with uow() as tx:
        if tx.session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite has one writer at a time: no row locks to wait on")
        await tx.usage.record(record(owner, cost=1, model="openai/a", at=NOW))

    async def charge() -> None:
        async with uow() as tx:
            await tx.usage.record(record(owner, cost=2, model="openai/a", at=NOW))

    async def month_locked() -> bool:
        async with uow() as tx:
            await tx.session.execute(text("SET LOCAL lock_timeout = '50ms'"))
            try:
                await tx.session.execute(
                    text("SELECT 1 FROM usage_month WHERE user_id = :u FOR UPDATE NOWAIT"), {"u": owner}
                )
            except DBAPIError:
                await tx.rollback()
                return True
            return False

    async with uow() as holder:
        await holder.session.execute(text("SELECT 1 FROM usage_daily_model WHERE model = 'openai/a' FOR UPDATE"))
        charging = asyncio.ensure_future(charge())
        for _ in range(1000):  # until the charge holds the month (a bound, not a timing)
            if await month_locked():
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the charge never took its month's row while waiting for the model's day row")
        assert not charging.done()
    await asyncio.wait_for(charging, 30)
    found = await rollups(uow, owner)
    assert found["month"] == [("2026-06-01", 3, 2)]
    assert [row[4] for row in found["model"]] == [2]


async def test_the_one_statement_charge_runs_through_the_session_too(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    """With tracing on (statements kept on the session, where the instrumentation sees them) the charge
    statement runs through SQLAlchemy and gives the same month's total."""
    from src.infrastructure.persistence.database import kept_on_session

    owner = await a_user(uow)
    async with uow() as tx:
        engine = tx.session.get_bind()  # the sync engine under the session's
        assert await tx.usage.record_and_total(record(owner, cost=5, model="openai/a", at=NOW)) == 5
    setattr(engine, "_parley_on_session", True)  # noqa: B010 - what keep_on_session does (tracing on)
    try:
        assert kept_on_session(engine)
        async with uow() as tx:
            assert await tx.usage.record_and_total(record(owner, cost=7, model="openai/a", at=NOW)) == 12
    finally:
        setattr(engine, "_parley_on_session", False)  # noqa: B010
    found = await rollups(uow, owner)
    assert found["month"] == [("2026-06-01", 12, 2)]
    assert [row[3] for row in found["daily"]] == [2]


async def _generating_reply(
    uow: SqlAlchemyUnitOfWorkFactory, conversation: Conversation, *, cost: int
) -> tuple[Message, int]:
    """A reply generating in ``conversation`` (its lock claimed), and the same reply as it ends: complete,
    with its usage and cost; and the conversation's token total after it."""
    reply = Message.placeholder_reply(id=uuid.uuid4(), conversation=conversation, seq=1, model="openai/a", now=NOW)
    async with uow() as tx:
        claim = await tx.conversations.claim_reply(
            conversation.id, reply.id, seqs=2, token_delta=4, now=NOW, lease_until=NOW + timedelta(minutes=1)
        )
        await tx.messages.add(reply)
    assert claim is not None
    done = dataclasses.replace(
        reply,
        content="all of it",
        status=MessageStatus.COMPLETE,
        finish_reason=FinishReason.STOP,
        token_count=3,
        usage=Usage(input_tokens=10, output_tokens=20),
        cost_micros=cost,
        provider="openai",
        latency_ms=120,
        ttft_ms=40,
        updated_at=NOW + timedelta(seconds=5),
    )
    return done, claim.token_total + 3


async def _reply_ends(
    uow: SqlAlchemyUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> tuple[SqlReplyEnds, list[str], list[int]]:
    """``SqlReplyEnds`` on the test database (skips on SQLite, which has none), the statements it runs and
    the outbox wake-ups it makes."""
    async_engine = await engine_of(uow)
    woken: list[int] = []
    ends = SqlReplyEnds.for_engine(async_engine, lambda: woken.append(1))
    if ends is None:
        assert async_engine.dialect.name == "sqlite"
        pytest.skip("SQLite has no data-modifying CTEs: a reply ends in a unit of work")
    statements = driver_statements(monkeypatch)
    return ends, statements, woken


async def test_a_reply_ends_in_one_statement_finished_released_and_charged_once(
    uow: SqlAlchemyUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the final write, the lock's release and the charge with its running totals are one
    statement with no transaction around it; a second finisher, or three at once, write nothing more."""
    from src.application.chat.recovery import usage_record_for

    ends, statements, woken = await _reply_ends(uow, monkeypatch)
    owner = await a_user(uow)
    conversation = await a_conversation(uow, owner)
    done, token_total = await _generating_reply(uow, conversation, cost=250)
    charge = usage_record_for(done, now=done.updated_at, requested_model="openai/a")
    statements.clear()

    async def finish() -> bool:
        return await ends.finish_and_charge(done, token_total=token_total, record=charge, alert=None)

    assert sorted(await asyncio.gather(finish(), finish(), finish())) == [False, False, True]
    assert len(statements) == 3
    assert all(s.startswith("WITH finished AS") for s in statements)
    async with uow(read_only=True) as tx:
        stored, freed = await tx.messages.get(done.id), await tx.conversations.get(conversation.id)
    assert stored is not None
    assert freed is not None
    assert (stored.content, stored.status, stored.cost_micros, stored.ttft_ms) == (
        "all of it",
        MessageStatus.COMPLETE,
        250,
        40,
    )
    assert (freed.generating_message_id, freed.generating_until) == (None, None)
    assert (freed.token_total, freed.last_activity_at) == (token_total, done.updated_at)
    assert freed.updated_at == done.updated_at  # as a unit of work's release stamps it
    found = await rollups(uow, owner)
    assert found["records"] == [(1, 250)]
    assert found["month"] == [("2026-06-01", 250, 1)]
    assert [row[3:9] for row in found["daily"]] == [(1, 10, 20, 0, 0, 250)]
    assert woken == []  # no budget alert asked for: no outbox message


async def test_a_reply_ended_in_one_statement_raises_the_budget_alert_only_from_its_threshold(
    uow: SqlAlchemyUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``UsageCharged`` outbox message is stored by the same statement when the month's total after
    the charge reaches the alert's threshold (80 % of the budget), as a unit of work stores it."""
    from sqlalchemy import bindparam, text

    from src.application.chat.recovery import usage_record_for
    from src.application.usage.budget import charge_alert

    ends, _, woken = await _reply_ends(uow, monkeypatch)
    owner = await a_user(uow)

    async def end_one(cost: int) -> None:
        conversation = await a_conversation(uow, owner)
        done, token_total = await _generating_reply(uow, conversation, cost=cost)
        alert = charge_alert(user_id=owner, cost_micros=cost, budget_micros=1_000, now=done.updated_at)
        assert alert is not None
        assert alert.from_micros == 800
        record = usage_record_for(done, now=done.updated_at)
        assert await ends.finish_and_charge(done, token_total=token_total, record=record, alert=alert)

    async def alerts() -> list[tuple[object, ...]]:
        statement = text(
            "SELECT job_name, payload -> 'event' ->> 'cost_micros', attempts, sent_at FROM outbox_message "
            "WHERE payload -> 'event' ->> 'user_id' = CAST(:u AS text) "
            "ORDER BY (payload -> 'event' ->> 'cost_micros')::bigint"
        ).bindparams(bindparam("u"))
        async with uow(read_only=True) as tx:
            return [tuple(row) for row in await tx.session.execute(statement, {"u": str(owner)})]

    await end_one(500)
    await end_one(299)  # 799: one micro-dollar short of 80 %
    assert await alerts() == []
    assert woken == []
    await end_one(1)  # 800
    await end_one(450)  # 1,250: past the budget, raised again (the handler claims each threshold once)
    assert await alerts() == [("dispatch_event", "1", 0, None), ("dispatch_event", "450", 0, None)]
    assert woken == [1, 1]
    assert (await rollups(uow, owner))["month"] == [("2026-06-01", 1_250, 4)]


async def test_a_reply_ended_in_one_statement_leaves_a_lock_taken_over_and_is_still_charged(
    uow: SqlAlchemyUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease ran out and another reply took the conversation: the final write and the charge still
    apply (the tokens were spent), the other reply's lock stays."""
    from src.application.chat.recovery import usage_record_for

    ends, _, _ = await _reply_ends(uow, monkeypatch)
    owner = await a_user(uow)
    conversation = await a_conversation(uow, owner)
    done, token_total = await _generating_reply(uow, conversation, cost=70)
    later = NOW + timedelta(minutes=2)
    other = uuid.uuid4()
    async with uow() as tx:
        assert await tx.conversations.claim_reply(
            conversation.id, other, seqs=2, token_delta=1, now=later, lease_until=later + timedelta(minutes=1)
        )
    record = usage_record_for(done, now=done.updated_at)
    assert await ends.finish_and_charge(done, token_total=token_total, record=record, alert=None)
    async with uow(read_only=True) as tx:
        stored, held = await tx.messages.get(done.id), await tx.conversations.get(conversation.id)
    assert stored is not None
    assert stored.status is MessageStatus.COMPLETE
    assert held is not None
    assert held.generating_message_id == other
    assert (await rollups(uow, owner))["records"] == [(1, 70)]


async def test_a_sends_read_brings_the_latest_messages_its_context_can_take(
    uow: SqlAlchemyUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL (``ReplyStarts``): ``read`` brings the messages within the cap (the conversation's own, else
    the deployment's) after a running summary's end (when summaries are on); ``context`` answers a range
    within them with no statement and any other range with one, always the rows ``MessageRepository.context``
    reads."""
    from src.infrastructure.persistence import reply_start

    engine = await engine_of(uow)
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite: a send is planned in a unit of work")
    owner = await a_user(uow)
    conversation = await a_conversation(uow, owner)
    words = ["alpha " * 10, "beta " * 20, "gamma " * 30, "delta " * 40, "epsilon " * 50]
    stored = await append(uow, conversation, words)
    starts_of = [m.token_start or 0 for m in stored]
    total = starts_of[-1] + (stored[-1].token_count or 0)
    statements = driver_statements(monkeypatch)

    async def check(cap: int, summaries: bool, *, covered: int) -> None:
        """Every range from each message's start: served by ``read`` from ``covered`` on, by a statement
        before it; the same rows as a transaction reads either way."""
        starts = reply_start.SqlReplyStarts(engine, context_tokens=cap, summaries=summaries)
        for min_start in [0, *starts_of, total]:
            async with uow(read_only=True) as tx:
                expected = await tx.messages.context(conversation.id, min_token_start=min_start, up_to_seq=5)
            async with starts.open() as start:
                statements.clear()
                assert await start.read(conversation.id, owner, NOW) is not None
                got = await start.context(conversation.id, min_token_start=min_start, up_to_seq=5)
                assert len(statements) == (1 if min_start >= covered else 2), (cap, summaries, min_start)
            assert got == expected

    # The deployment's cap of the last two messages' tokens: read brings those two.
    cap = total - starts_of[3]
    await check(cap, True, covered=starts_of[3])
    await check(100_000, True, covered=0)
    # The conversation's own cap wins over the deployment's.
    async with uow() as tx:
        conversation.context_tokens = total - starts_of[2]
        await tx.conversations.save(conversation)
    await check(cap, True, covered=starts_of[2])
    # A running summary through the fourth message: what it covers is not brought along while summaries
    # are on (and the conversation's), whatever the cap.
    async with uow() as tx:
        assert await tx.conversations.store_summary(
            conversation.id, summary="s", token_end=starts_of[4], through_id=stored[3].id, previous_token_end=0, now=NOW
        )
    await check(100_000, True, covered=starts_of[4])
    await check(100_000, False, covered=starts_of[2])


async def test_a_send_reads_ahead_and_claims_with_both_rows_only_while_the_conversation_is_as_read(
    uow: SqlAlchemyUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL (``ReplyStarts``): the conversation with its owner's budget standing and its latest messages
    in one statement (the context then needs none), then the claim with both rows in one statement; a
    conversation changed since its read (another send landed) is neither claimed nor written to."""
    from src.infrastructure.persistence import driver, reply_start

    engine = await engine_of(uow)
    found = reply_start.SqlReplyStarts.for_engine(engine, context_tokens=4_000, summaries=True)
    if found is None:
        assert engine.dialect.name == "sqlite"
        pytest.skip("SQLite: a send is planned in a unit of work")
    starts = found
    statements = driver_statements(monkeypatch)
    checkouts: list[int] = []
    checkout = driver.autocommit

    def counted_checkout(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        checkouts.append(1)
        return checkout(engine)

    monkeypatch.setattr(reply_start, "autocommit", counted_checkout)
    owner, other = await a_user(uow), await a_user(uow)
    conversation = await a_conversation(uow, owner)
    await append(uow, conversation, ["one", "two"])
    async with uow() as tx:
        await tx.budgets.set(owner, 9_000, now=NOW)
        await tx.usage.record(record(owner, cost=400, model="openai/a", at=NOW))
    june = datetime(2026, 6, 1, tzinfo=UTC)
    statements.clear()
    async with starts.open() as start:
        standing = await start.read(conversation.id, owner, june)
        assert await start.read(conversation.id, other, june) is None
        history = await start.context(conversation.id, min_token_start=0, up_to_seq=2)
    assert checkouts == [1]  # one pooled connection for the statements
    assert standing is not None
    assert (standing.budget_micros, standing.spent_micros) == (9_000, 400)
    read = standing.conversation
    assert (read.next_seq, read.token_total) == (3, message_tokens("one") + message_tokens("two"))
    assert [m.content for m in history] == ["one", "two"]
    assert len(statements) == 2  # the two reads; the context came with the first

    tokens = message_tokens("three")
    user = Message.from_user(
        id=uuid.uuid4(), conversation=read, seq=3, content="three", token_count=tokens, model="offline/echo", now=NOW
    )
    user.token_start = read.token_total
    reply = Message.placeholder_reply(id=uuid.uuid4(), conversation=read, seq=4, model="offline/echo", now=NOW)
    reply.usage = Usage(input_tokens=12, output_tokens=0, estimated=True)
    later = NOW + timedelta(seconds=1)
    lease = later + timedelta(minutes=1)

    async def claim(conversation: Conversation, *rows: Message) -> bool:
        async with starts.open() as start:
            return await start.claim_and_store(
                conversation, reply.id, rows, token_delta=tokens, now=later, lease_until=lease
            )

    # Another send landed after this one's read: the conversation moved on; nothing is written.
    await append(uow, conversation, ["elsewhere"])
    statements.clear()
    assert not await claim(read, user, reply)
    assert len(statements) == 1
    async with uow(read_only=True) as tx:
        assert await tx.messages.get(user.id) is None
        moved = await tx.conversations.get(conversation.id)
    assert moved is not None
    assert moved.generating_message_id is None

    # Read again, as the send's transaction would: claimed, both rows stored, numbered after it.
    user.seq, reply.seq, user.token_start = moved.next_seq, moved.next_seq + 1, moved.token_total
    assert await claim(moved, user, reply)
    assert not await claim(moved, user, reply)  # claimed now: the same read no longer holds
    async with uow(read_only=True) as tx:
        claimed = await tx.conversations.get(conversation.id)
        stored_user, stored_reply = await tx.messages.get(user.id), await tx.messages.get(reply.id)
    assert claimed is not None
    assert (claimed.generating_message_id, claimed.generating_until) == (reply.id, lease)
    assert (claimed.next_seq, claimed.token_total) == (moved.next_seq + 2, moved.token_total + tokens)
    assert (claimed.last_activity_at, claimed.updated_at) == (later, later)
    assert stored_user is not None
    assert stored_reply is not None
    assert (stored_user.seq, stored_user.content, stored_user.token_start) == (4, "three", moved.token_total)
    assert (stored_reply.seq, stored_reply.status, stored_reply.usage) == (5, MessageStatus.GENERATING, reply.usage)
