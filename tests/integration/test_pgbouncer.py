"""Parley behind a real PgBouncer in transaction pooling mode (``DB_PGBOUNCER=true``).

PgBouncer hands each transaction whichever server connection is free, so a statement prepared on
one is unknown (or already taken, by name) on the next. The app's client pool is made larger than
PgBouncer's server pool so that this happens constantly; the same workload without
``DB_PGBOUNCER`` fails, which shows the test can tell.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from litestar.testing import AsyncTestClient

from src.infrastructure.container import build_container
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.settings import Settings
from src.interfaces.http.app import create_app
from tests.accounts import sign_up
from tests.conftest import SettingsFactory
from tests.service_processes import PgBouncer

pytestmark = pytest.mark.postgres

PASSWORD = "a-long-enough-password-42"


@pytest.fixture
def pgbouncer(postgres_url: str) -> Iterator[PgBouncer]:
    bouncer = PgBouncer(postgres_url, server_connections=2)
    bouncer.start()
    try:
        yield bouncer
    finally:
        bouncer.stop()


def through(make_settings: SettingsFactory, bouncer: PgBouncer, *, pgbouncer_mode: bool) -> Settings:
    return make_settings(
        DATABASE_URL=bouncer.url(),
        DB_PGBOUNCER="true" if pgbouncer_mode else "false",
        DB_POOL_SIZE="8",
        DB_MAX_OVERFLOW="0",
        RATE_LIMIT_ENABLED="false",
    )


async def chat_workload(settings: Settings, people: int = 6, turns: int = 3) -> list[int]:
    """People sign up, start conversations and chat at once, through the REST API; the statuses."""
    app = create_app(settings, build_container(settings, role="api"))
    statuses: list[int] = []
    async with AsyncTestClient(app, timeout=60) as client:
        tokens = await sign_up(client, [f"bouncer{i}" for i in range(people)], PASSWORD)

        async def chat(token: str) -> None:
            headers = {"Authorization": f"Bearer {token}"}
            created = await client.post("/api/v1/conversations", json={}, headers=headers)
            statuses.append(created.status_code)
            for turn in range(turns):
                sent = await client.post(
                    f"/api/v1/conversations/{created.json()['id']}/messages",
                    json={"content": f"hello number {turn}"},
                    headers=headers,
                )
                statuses.append(sent.status_code)
            listed = await client.get("/api/v1/conversations", headers=headers)
            statuses.append(listed.status_code)
            assert listed.json()["total"] == 1

        await asyncio.gather(*(chat(token) for token in tokens.values()))
    return statuses


def test_the_app_works_through_pgbouncer_in_transaction_mode(
    make_settings: SettingsFactory, pgbouncer: PgBouncer
) -> None:
    settings = through(make_settings, pgbouncer, pgbouncer_mode=True)
    Migrator(settings).upgrade()  # migrations go through PgBouncer too
    statuses = asyncio.run(chat_workload(settings))
    assert statuses
    assert set(statuses) <= {200, 201}, statuses
    assert "prepared statement" not in pgbouncer.log()


def test_pgbouncer_mode_turns_off_both_statement_caches(make_settings: SettingsFactory) -> None:
    from src.infrastructure.persistence.database import build_database_config

    settings = make_settings(DATABASE_URL="postgresql+asyncpg://parley@127.0.0.1:6432/parley", DB_PGBOUNCER="true")
    connect_args = build_database_config(settings).engine_config.connect_args
    assert isinstance(connect_args, dict)
    assert connect_args["statement_cache_size"] == 0
    assert connect_args["prepared_statement_cache_size"] == 0
    names = {connect_args["prepared_statement_name_func"]() for _ in range(3)}
    assert len(names) == 3
    plain = build_database_config(make_settings(DATABASE_URL=settings.database.url)).engine_config.connect_args
    assert isinstance(plain, dict)
    assert "statement_cache_size" not in plain
