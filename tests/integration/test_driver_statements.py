"""Core statements run on the driver (``persistence/driver.py``): in the unit of work's transaction even
when they are its first statement, with the values SQLAlchemy would have bound (literals, Python-side
``onupdate`` columns), rows read alike; on PostgreSQL (asyncpg) and SQLite (through the session)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, bindparam, event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from src.domain.chat.model import Conversation
from src.infrastructure.persistence import chat_repositories
from src.infrastructure.persistence.chat_models import ConversationModel
from src.infrastructure.persistence.chat_rows import conversation_of
from src.infrastructure.persistence.database import build_database_config, keep_on_session, kept_on_session
from src.infrastructure.persistence.driver import run, run_many
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.settings import Settings
from tests.conftest import SettingsFactory
from tests.integration.test_chat_persistence import a_user
from tests.logs import capture_logs

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
_CONVERSATIONS = cast(Table, ConversationModel.__table__)
_RENAME = update(_CONVERSATIONS).where(_CONVERSATIONS.c.id == bindparam("p_id")).values(title=bindparam("p_title"))


@pytest.fixture
async def uow(migrated_settings: Settings) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    config = build_database_config(migrated_settings)
    yield SqlAlchemyUnitOfWorkFactory.for_database(config)
    await config.get_engine().dispose()


async def a_conversation(uow: SqlAlchemyUnitOfWorkFactory) -> Conversation:
    conversation = Conversation.start(id=uuid.uuid4(), user_id=await a_user(uow), model="offline/echo", now=NOW)
    async with uow() as tx:
        await tx.conversations.add(conversation)
    return conversation


async def stored(uow: SqlAlchemyUnitOfWorkFactory, conversation_id: uuid.UUID) -> Any:
    async with uow(read_only=True) as tx:
        return (await tx.session.execute(select(_CONVERSATIONS).where(_CONVERSATIONS.c.id == conversation_id))).one()


async def test_a_first_statement_is_inside_the_transaction_and_rolls_back_with_it(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    conversation = await a_conversation(uow)
    changed: list[int] = []

    async def rename_then_fail() -> None:
        async with uow() as tx:
            changed.append((await run(tx.session, _RENAME, {"p_id": conversation.id, "p_title": "Renamed"})).rowcount)
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        await rename_then_fail()
    assert changed == [1]
    assert (await stored(uow, conversation.id)).title is None  # not committed on its own (autocommit)
    async with uow() as tx:
        await run(tx.session, _RENAME, {"p_id": conversation.id, "p_title": "Renamed"})
    assert (await stored(uow, conversation.id)).title == "Renamed"


async def test_statements_after_a_commit_or_a_rollback_run_in_the_next_transaction(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    """The driver's connection is remembered for one transaction only: after ``commit`` or ``rollback``
    within a unit of work, the next statement runs in the session's next transaction, and rolls back
    with it."""
    first, second = await a_conversation(uow), await a_conversation(uow)

    async def commit_then_fail() -> None:
        async with uow() as tx:
            await run(tx.session, _RENAME, {"p_id": first.id, "p_title": "Kept"})
            await tx.commit()
            await run(tx.session, _RENAME, {"p_id": second.id, "p_title": "Dropped"})
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        await commit_then_fail()
    assert ((await stored(uow, first.id)).title, (await stored(uow, second.id)).title) == ("Kept", None)

    async with uow() as tx:
        await run(tx.session, _RENAME, {"p_id": first.id, "p_title": "Undone"})
        await tx.rollback()
        await run(tx.session, _RENAME, {"p_id": second.id, "p_title": "Done"})
    assert ((await stored(uow, first.id)).title, (await stored(uow, second.id)).title) == ("Kept", "Done")


async def test_a_write_in_a_read_only_unit_of_work_is_refused(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    conversation = await a_conversation(uow)
    async with uow(read_only=True) as tx:
        if tx.session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite's read-only units of work are read-only by convention (no write lock taken)")

    async def rename() -> None:
        async with uow(read_only=True) as tx:
            await run(tx.session, _RENAME, {"p_id": conversation.id, "p_title": "Renamed"})

    with pytest.raises(Exception, match="read-only"):
        await rename()
    assert (await stored(uow, conversation.id)).title is None


async def test_literal_binds_and_python_side_onupdate_columns_are_bound(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    conversation = await a_conversation(uow)
    before = (await stored(uow, conversation.id)).updated_at
    marker = uuid.uuid4()
    async with uow() as tx:
        claim = await tx.conversations.claim_reply(
            conversation.id, marker, seqs=2, token_delta=5, now=NOW, lease_until=NOW + timedelta(seconds=30)
        )
        assert claim is not None
        assert (claim.first_seq, claim.token_total) == (1, 5)
    row = await stored(uow, conversation.id)
    assert row.generating_message_id == marker
    assert row.updated_at > before  # ``onupdate``, computed in Python as SQLAlchemy would have
    async with uow() as tx:
        # The release's ``generating_message_id = NULL`` and ``status == "generating"``-style literals.
        assert await tx.conversations.release_reply(conversation.id, marker, token_total=None, now=NOW)
        assert not await tx.conversations.release_reply(conversation.id, marker, token_total=None, now=NOW)
    assert (await stored(uow, conversation.id)).generating_message_id is None


async def test_rows_read_on_the_driver_map_as_the_orm_reads_them(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    conversation = await a_conversation(uow)
    async with uow() as tx:
        on_driver = (await run(tx.session, chat_repositories._GET_CONVERSATION, {"p_id": conversation.id})).first()
        model = await tx.session.get(ConversationModel, conversation.id)
        assert on_driver is not None
        assert model is not None
        assert conversation_of(on_driver) == conversation_of(model)
        assert conversation_of(on_driver) == conversation


async def test_rows_are_read_by_column_name_by_position_and_in_order(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    """A driver row reads like SQLAlchemy's: its columns as attributes, by position, in order; a column
    whose name is no identifier by position."""
    conversation = await a_conversation(uow)
    statement = select(
        _CONVERSATIONS.c.title, _CONVERSATIONS.c.next_seq, (_CONVERSATIONS.c.next_seq + 1).label("?column?")
    ).where(_CONVERSATIONS.c.id == bindparam("p_id"))
    async with uow() as tx:
        renamed = await run(tx.session, _RENAME, {"p_id": conversation.id, "p_title": "Rows"})
        rows = await run(tx.session, statement, {"p_id": conversation.id})
    assert renamed.rowcount == 1
    assert rows.rowcount == 1
    row = rows.first()
    assert row is not None
    assert (row.title, row.next_seq) == ("Rows", conversation.next_seq)
    assert (row[0], row[1], row[2], len(row)) == ("Rows", conversation.next_seq, conversation.next_seq + 1, 3)
    assert list(row) == ["Rows", conversation.next_seq, conversation.next_seq + 1]
    with pytest.raises(AttributeError):
        _ = row.summary  # not selected


async def test_slow_statements_on_the_driver_are_logged_without_their_parameters(
    migrated_settings: Settings, make_settings: SettingsFactory
) -> None:
    """``SLOW_QUERY_MS`` holds for statements run on the driver too: the unit of work's first one (which
    binds the session to its connection) and the ones after it."""
    settings = make_settings(DATABASE_URL=migrated_settings.database.url, SLOW_QUERY_MS=0)
    config = build_database_config(settings)
    factory = SqlAlchemyUnitOfWorkFactory.for_database(config)
    try:
        conversation = await a_conversation(factory)
        with capture_logs() as logs:
            async with factory() as tx:
                await run(tx.session, _RENAME, {"p_id": conversation.id, "p_title": "hunter2-title"})
                await run(tx.session, _RENAME, {"p_id": conversation.id, "p_title": "hunter2-title"})
    finally:
        await config.get_engine().dispose()
    slow = [e for e in logs.events("slow_query") if "UPDATE conversation" in e["sql"]]
    assert len(slow) == 2, logs.text()
    assert "hunter2-title" not in logs.text()


async def test_many_parameter_sets_in_one_call(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    first, second = await a_conversation(uow), await a_conversation(uow)
    async with uow() as tx:
        await run_many(
            tx.session,
            _RENAME,
            [{"p_id": first.id, "p_title": "One"}, {"p_id": second.id, "p_title": "Two"}],
        )
    assert [(await stored(uow, c.id)).title for c in (first, second)] == ["One", "Two"]


async def test_with_tracing_statements_stay_on_the_session_where_its_events_see_them(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    conversation = await a_conversation(uow)
    async with uow() as tx:
        engine = tx.session.bind
    assert isinstance(engine, AsyncEngine)
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("UPDATE conversation"):
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        async with uow() as tx:
            await run(tx.session, _RENAME, {"p_id": conversation.id, "p_title": "Driver"})
        # On PostgreSQL the statement ran on asyncpg: SQLAlchemy's events (and the tracing) never saw it.
        assert len(seen) == (0 if engine.dialect.name == "postgresql" else 1)
        keep_on_session(engine)  # what tracing does
        async with uow() as tx:
            await run(tx.session, _RENAME, {"p_id": conversation.id, "p_title": "Session"})
        assert len(seen) == (1 if engine.dialect.name == "postgresql" else 2)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)
        setattr(engine.sync_engine, "_parley_on_session", False)  # noqa: B010
    assert (await stored(uow, conversation.id)).title == "Session"


async def test_db_echo_keeps_every_statement_on_the_session(migrated_settings: Settings) -> None:
    """``DB_ECHO`` promises every statement in the log: none may run past SQLAlchemy."""
    echoing = replace(migrated_settings, database=replace(migrated_settings.database, echo=True))
    config = build_database_config(echoing)
    quiet = build_database_config(migrated_settings)
    try:
        assert kept_on_session(config.get_engine())
        assert not kept_on_session(quiet.get_engine())
    finally:
        await config.get_engine().dispose()
        await quiet.get_engine().dispose()


async def test_a_unit_of_work_begun_by_a_driver_statement_shares_its_transaction_with_the_orm(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    """A unit of work whose first statement runs on the driver checks out its connection itself, without
    the session's transaction; an ORM statement after it joins that same transaction: they commit
    together and roll back together, and the connection goes back to the pool either way."""
    first, second = await a_conversation(uow), await a_conversation(uow)
    async with uow() as tx:
        engine = tx.session.bind
    assert isinstance(engine, AsyncEngine)
    postgres = engine.dialect.name == "postgresql"
    pool: Any = engine.sync_engine.pool

    async def both(title: str, *, fail: bool) -> None:
        async with uow() as tx:
            await run(tx.session, _RENAME, {"p_id": first.id, "p_title": title})
            # The session did not begin a transaction of its own on PostgreSQL (the driver's is used).
            assert (tx.session.sync_session.get_transaction() is None) is postgres
            model = await tx.session.get(ConversationModel, second.id)
            assert model is not None
            model.title = title
            # The ORM's read sees the driver's uncommitted write: one transaction.
            seen = await tx.session.get(ConversationModel, first.id, populate_existing=True)
            assert seen is not None
            assert seen.title == title
            if fail:
                raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        await both("Dropped", fail=True)
    assert ((await stored(uow, first.id)).title, (await stored(uow, second.id)).title) == (None, None)
    await both("Kept", fail=False)
    assert ((await stored(uow, first.id)).title, (await stored(uow, second.id)).title) == ("Kept", "Kept")
    if postgres:
        assert pool.checkedout() == 0


async def test_after_a_commit_within_the_unit_of_work_the_orm_and_the_driver_share_the_next_transaction(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    first, second = await a_conversation(uow), await a_conversation(uow)

    async def commit_then_fail() -> None:
        async with uow() as tx:
            await run(tx.session, _RENAME, {"p_id": first.id, "p_title": "Kept"})
            await tx.commit()
            model = await tx.session.get(ConversationModel, second.id)
            assert model is not None
            model.title = "Dropped"
            await tx.session.flush()
            await run(tx.session, _RENAME, {"p_id": first.id, "p_title": "Dropped"})
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        await commit_then_fail()
    assert ((await stored(uow, first.id)).title, (await stored(uow, second.id)).title) == ("Kept", None)

    async with uow() as tx:
        model = await tx.session.get(ConversationModel, second.id)
        assert model is not None
        model.title = "Pending"  # flushed by the commit, in the driver's transaction
        await run(tx.session, _RENAME, {"p_id": first.id, "p_title": "Both"})
    assert ((await stored(uow, first.id)).title, (await stored(uow, second.id)).title) == ("Both", "Pending")
