"""Migration b8d4f0a2c6e1 on SQLite and PostgreSQL: every member becomes a creator (and back on
downgrade), and the account row keeps a bio and an avatar version."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

from sqlalchemy import text
from uuid_utils.compat import uuid7

from src.domain.identity.model import Role, Tier, User
from src.infrastructure.persistence.database import build_database_config
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.settings import Settings

BEFORE_ROLES = "a7c3e9f1b2d4"
ROLES = "b8d4f0a2c6e1"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def run_sql(settings: Settings, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = build_database_config(settings).get_engine()
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


def test_members_become_creators_and_admins_stay(settings: Settings) -> None:
    migrator = Migrator(settings)
    migrator.upgrade(BEFORE_ROLES)
    insert = (
        "INSERT INTO user_account (id, email, display_name, password_hash, role, tier, is_active, token_version, "
        "created_at, updated_at) VALUES (:id, :email, 'X', 'h', :role, 'free', true, 4, :now, :now)"
    )
    for email, role in (("ada@example.com", "member"), ("root@example.com", "admin")):
        asyncio.run(
            run_sql(
                settings,
                insert,
                id=str(uuid7()) if "sqlite" in settings.database.url else uuid7(),
                email=email,
                role=role,
                now=NOW,
            )
        )

    migrator.upgrade(ROLES)
    rows = asyncio.run(run_sql(settings, "SELECT email, role, token_version, bio FROM user_account ORDER BY email"))
    # Sessions go on (no token_version bump): the role is read from the account on every request.
    assert rows == [("ada@example.com", "creator", 4, ""), ("root@example.com", "admin", 4, "")]

    asyncio.run(run_sql(settings, "UPDATE user_account SET role = 'viewer' WHERE email = 'root@example.com'"))
    migrator.downgrade(BEFORE_ROLES)
    rows = asyncio.run(run_sql(settings, "SELECT email, role FROM user_account ORDER BY email"))
    assert rows == [("ada@example.com", "member"), ("root@example.com", "member")]


def test_bio_and_avatar_version_are_stored(migrated_settings: Settings) -> None:
    async def scenario() -> User | None:
        config = build_database_config(migrated_settings)
        uow = SqlAlchemyUnitOfWorkFactory.for_database(config)
        user = User(uuid7(), "ada@example.com", "Ada", "h", Role.VIEWER, Tier.FREE, True, NOW, NOW)
        try:
            async with uow() as tx:
                await tx.users.add(dataclasses.replace(user, bio="Line one\nLine two é"))
            async with uow() as tx:
                stored = await tx.users.get(user.id)
                assert stored is not None
                assert stored.avatar_version is None
                stored.set_avatar("0123456789abcdef0123456789abcdef", now=NOW)
                await tx.users.save(stored)
            async with uow(read_only=True) as tx:
                return await tx.users.get(user.id)
        finally:
            await config.get_engine().dispose()

    stored = asyncio.run(scenario())
    assert stored is not None
    assert (stored.role, stored.bio, stored.avatar_version) == (
        Role.VIEWER,
        "Line one\nLine two é",
        "0123456789abcdef0123456789abcdef",
    )
