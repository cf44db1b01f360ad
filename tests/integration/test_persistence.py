"""The database layer on both SQLite and PostgreSQL: migrations, the unit of work, slow queries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine.interfaces import DBAPIConnection

from src.domain.shared.jobs import JobReceipt
from src.infrastructure.persistence.database import build_database_config, build_engine_database
from src.infrastructure.persistence.migrator import Migrator, migration_heads
from src.infrastructure.persistence.models import UserModel
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.settings import Settings
from tests.conftest import SettingsFactory
from tests.factories import EPOCH, JobReceiptFactory
from tests.logs import capture_logs

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
async def uow(migrated_settings: Settings) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    config = build_database_config(migrated_settings)
    yield SqlAlchemyUnitOfWorkFactory.for_database(config)
    await config.get_engine().dispose()


async def table_names(settings: Settings) -> set[str]:
    engine = build_database_config(settings).get_engine()
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


def test_migrations_go_up_and_down_and_match_the_models(settings: Settings) -> None:
    migrator = Migrator(settings)
    assert migrator.state().current == ()
    assert not migrator.state().up_to_date

    migrator.upgrade()
    state = migrator.state()
    assert state.up_to_date
    assert state.current == state.heads
    # Autogenerate finds nothing: the models and the migrations agree on this database.
    assert migrator.pending_model_changes() == []

    migrator.downgrade("base")
    assert migrator.state().current == ()
    import asyncio

    assert asyncio.run(table_names(settings)) <= {"alembic_version"}

    migrator.upgrade()  # and up again: every downgrade really undoes its upgrade
    assert migrator.state().up_to_date


def test_every_migration_steps_up_and_down_in_turn(settings: Settings) -> None:
    """The stairway: upgrade one step, downgrade one step, upgrade again, for each revision."""
    migrator = Migrator(settings)
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrator._commands().config)
    revisions = list(reversed(list(script.walk_revisions())))
    assert revisions, "there is at least one migration"
    for revision in revisions:
        down = revision.down_revision or "base"
        assert isinstance(down, str), f"{revision.revision} merges revisions: the stairway needs one step down"
        migrator.upgrade(revision.revision)
        migrator.downgrade(down)
        migrator.upgrade(revision.revision)
    assert migrator.state().up_to_date


def test_models_differing_from_migrations_are_detected(settings: Settings) -> None:
    migrator = Migrator(settings)
    migrator.upgrade()

    async def drop_index() -> None:
        engine = build_database_config(settings).get_engine()
        async with engine.begin() as connection:
            await connection.execute(text("DROP INDEX ix_job_receipt_expires_at"))
        await engine.dispose()

    import asyncio

    asyncio.run(drop_index())
    differences = migrator.pending_model_changes()
    assert any("ix_job_receipt_expires_at" in repr(d) for d in differences)


def test_the_heads_read_from_the_revision_files_are_alembics() -> None:
    from alembic.script import ScriptDirectory

    from src.infrastructure.persistence.database import MIGRATIONS_DIR

    assert migration_heads() == tuple(sorted(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()))


async def test_the_clis_database_and_the_apis_store_the_same_rows(migrated_settings: Settings) -> None:
    """``parley`` commands run on SQLAlchemy alone (``EngineDatabase``), the API on advanced-alchemy's
    config: what one writes the other reads, and an update bumps ``updated_at`` on both."""
    cli_database, api_database = build_engine_database(migrated_settings), build_database_config(migrated_settings)
    cli_uow = SqlAlchemyUnitOfWorkFactory.for_database(cli_database)
    api_uow = SqlAlchemyUnitOfWorkFactory.for_database(api_database)
    try:
        async with cli_uow() as tx:
            assert await tx.job_receipts.add(JobReceipt.issue("job", "from-cli", now=NOW))
        async with api_uow() as tx:
            assert await tx.job_receipts.exists("job", "from-cli")
            assert await tx.job_receipts.add(JobReceipt.issue("job", "from-api", now=NOW))
        async with cli_uow(read_only=True) as tx:
            assert await tx.job_receipts.exists("job", "from-api")

        for database in (cli_database, api_database):
            async with database.create_session_maker()() as session, session.begin():
                user = UserModel(
                    email=f"{database.__class__.__name__.lower()}@example.com",
                    display_name="Before",
                    password_hash="x",
                    role="creator",
                    tier="free",
                    created_at=EPOCH,
                    updated_at=EPOCH,
                )
                session.add(user)
            async with database.create_session_maker()() as session, session.begin():
                stored = await session.get(UserModel, user.id)
                assert stored is not None
                assert stored.updated_at == EPOCH
                assert stored.created_at.tzinfo is not None
                stored.display_name = "After"
            async with database.create_session_maker()() as session:
                updated = await session.get(UserModel, user.id)
                assert updated is not None
                assert updated.display_name == "After"
                assert updated.updated_at > EPOCH
                assert updated.created_at == EPOCH
    finally:
        await cli_database.get_engine().dispose()
        await api_database.get_engine().dispose()


async def test_unit_of_work_commits_on_success(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    async with uow() as tx:
        assert await tx.job_receipts.add(JobReceipt.issue("job", "k1", now=NOW))
    async with uow() as tx:
        assert await tx.job_receipts.exists("job", "k1")


async def test_unit_of_work_rolls_back_on_error(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    with pytest.raises(RuntimeError):  # noqa: PT012 - the write and the failure belong together
        async with uow() as tx:
            await tx.job_receipts.add(JobReceipt.issue("job", "k1", now=NOW))
            raise RuntimeError("something failed after the write")
    async with uow() as tx:
        assert not await tx.job_receipts.exists("job", "k1")


async def test_a_duplicate_receipt_is_refused_without_spoiling_the_transaction(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    async with uow() as tx:
        assert await tx.job_receipts.add(JobReceipt.issue("job", "same", now=NOW))
        assert not await tx.job_receipts.add(JobReceipt.issue("job", "same", now=NOW))
        # The transaction is still usable after the refused insert.
        assert await tx.job_receipts.add(JobReceipt.issue("job", "other", now=NOW))
    async with uow() as tx:
        assert await tx.job_receipts.exists("job", "same")
        assert await tx.job_receipts.exists("job", "other")


async def test_expired_receipts_are_deleted_in_batches(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    fresh = JobReceiptFactory.build(expires_at=EPOCH + timedelta(days=30))
    async with uow() as tx:
        for receipt in JobReceiptFactory.batch(7):
            assert await tx.job_receipts.add(receipt)
        await tx.job_receipts.add(fresh)
    later = EPOCH + timedelta(days=1)
    async with uow() as tx:
        assert await tx.job_receipts.delete_expired(later, batch_size=5) == 5
        assert await tx.job_receipts.delete_expired(later, batch_size=5) == 2
        assert await tx.job_receipts.delete_expired(later, batch_size=5) == 0
        assert await tx.job_receipts.exists(fresh.job_name, fresh.dedupe_key)


async def test_slow_statements_are_logged_without_their_parameters(
    make_settings: SettingsFactory, database_url: str
) -> None:
    settings = make_settings(DATABASE_URL=database_url, SLOW_QUERY_MS=0)
    engine = build_database_config(settings).get_engine()
    try:
        with capture_logs() as logs:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT :secret AS value"), {"secret": "hunter2-password"})
    finally:
        await engine.dispose()
    slow = [e for e in logs.events("slow_query") if "value" in e["sql"]]
    assert slow, logs.text()
    assert slow[0]["duration_ms"] >= 0
    assert "hunter2-password" not in logs.text()


async def test_fast_statements_are_not_logged(make_settings: SettingsFactory, sqlite_url: str) -> None:
    settings = make_settings(DATABASE_URL=sqlite_url, SLOW_QUERY_MS=60_000)
    engine = build_database_config(settings).get_engine()
    try:
        with capture_logs() as logs:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert logs.events("slow_query") == []


async def test_a_read_only_unit_of_work_reads_while_a_writer_holds_the_lock(
    uow: SqlAlchemyUnitOfWorkFactory,
) -> None:
    async with uow() as tx:
        await tx.job_receipts.add(JobReceiptFactory.build(job_name="job", dedupe_key="seen"))
    async with uow() as writer:
        await writer.job_receipts.add(JobReceiptFactory.build(job_name="job", dedupe_key="pending"))
        # A writer is mid-transaction: a reader still gets the committed state, without waiting.
        async with asyncio.timeout(5), uow(read_only=True) as reader:
            assert await reader.job_receipts.exists("job", "seen")
            assert not await reader.job_receipts.exists("job", "pending")


@pytest.mark.postgres
async def test_a_read_only_unit_of_work_refuses_writes_on_postgres(
    make_settings: SettingsFactory, postgres_url: str
) -> None:
    from sqlalchemy.exc import DBAPIError

    settings = make_settings(DATABASE_URL=postgres_url)
    await asyncio.to_thread(Migrator(settings).upgrade)
    config = build_database_config(settings)
    factory = SqlAlchemyUnitOfWorkFactory.for_database(config)
    try:
        with pytest.raises(DBAPIError, match="read-only"):  # noqa: PT012 - the write is what fails
            async with factory(read_only=True) as tx:
                await tx.job_receipts.add(JobReceiptFactory.build())
    finally:
        await config.get_engine().dispose()


async def test_concurrent_writers_all_commit(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    """Many writers at once (SQLite has one writer at a time): none fails, every write lands."""

    async def write(n: int) -> None:
        async with uow() as tx:
            assert await tx.job_receipts.add(JobReceiptFactory.build(job_name="burst", dedupe_key=f"k{n}"))

    await asyncio.gather(*(write(n) for n in range(40)))
    async with uow(read_only=True) as tx:
        assert all([await tx.job_receipts.exists("burst", f"k{n}") for n in range(40)])


@pytest.mark.postgres
async def test_a_connection_idle_past_the_threshold_is_pinged_and_a_dead_one_replaced(
    make_settings: SettingsFactory, postgres_url: str
) -> None:
    from tests.conftest import _admin

    settings = make_settings(DATABASE_URL=postgres_url, DB_POOL_SIZE="1", DB_POOL_PING_AFTER_SECONDS="0.2")
    engine = build_database_config(settings).get_engine()
    pings: list[DBAPIConnection] = []
    ping = engine.sync_engine.dialect.do_ping

    def counting_ping(dbapi_connection: DBAPIConnection) -> bool:
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    engine.sync_engine.dialect.do_ping = counting_ping  # type: ignore[method-assign]

    async def backend_pid() -> int:
        async with engine.connect() as connection:
            return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())

    try:
        first = await backend_pid()
        assert await backend_pid() == first  # handed back a moment ago: reused without a ping
        assert pings == []

        await asyncio.sleep(0.3)
        assert await backend_pid() == first  # idle past the threshold: pinged, alive, reused
        assert len(pings) == 1

        # The server ends the idle connection (a restart, a proxy's idle timeout): the ping fails,
        # the pool replaces the connection and the caller never sees an error.
        await _admin(f"SELECT pg_terminate_backend({first})")
        await asyncio.sleep(0.3)
        replacement = await backend_pid()
        assert replacement != first
        assert len(pings) == 2
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_ping_after_zero_pings_before_every_use(make_settings: SettingsFactory, postgres_url: str) -> None:
    settings = make_settings(DATABASE_URL=postgres_url, DB_POOL_PING_AFTER_SECONDS="0")
    engine = build_database_config(settings).get_engine()
    try:
        assert engine.pool._pre_ping
    finally:
        await engine.dispose()
