"""Alembic environment: runs with the engine Parley's settings build (Postgres or SQLite)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import AsyncEngine, async_engine_from_config

from src.infrastructure.persistence.schema import every_table
from src.infrastructure.persistence.schema_filter import include_name
from src.infrastructure.persistence.type_comparison import compare_column_type

if TYPE_CHECKING:
    from advanced_alchemy.alembic.commands import AlembicCommandConfig
    from sqlalchemy.engine import Connection

config: AlembicCommandConfig = context.config  # type: ignore[assignment]


def _options() -> dict[str, Any]:
    return {
        "target_metadata": every_table(),
        "compare_type": compare_column_type if config.compare_type else False,
        "version_table": config.version_table_name,
        "version_table_schema": config.version_table_schema,
        "user_module_prefix": config.user_module_prefix,
        "render_as_batch": config.render_as_batch,
        "include_name": include_name,
    }


def run_migrations_offline() -> None:
    context.configure(url=config.db_url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **_options())
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **_options())
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = cast(
        "AsyncEngine",
        config.engine
        or async_engine_from_config({"sqlalchemy.url": config.db_url}, prefix="sqlalchemy.", poolclass=pool.NullPool),
    )
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
