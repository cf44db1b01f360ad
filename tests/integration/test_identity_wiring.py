"""The identity wiring on SQLite and PostgreSQL: the first-admin bootstrap at API start, the prune
job's refresh-token sweep, and the container's adapters working together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from uuid_utils.compat import uuid7

from src.application.identity.views import RegisterUserCommand
from src.application.shared.prune_expired import PruneExpiredCommand
from src.domain.identity.model import RefreshToken, Role
from src.infrastructure.container import Container, build_container
from src.infrastructure.settings import ConfigError, Settings
from tests.conftest import SettingsFactory
from tests.logs import capture_logs

ADMIN_PASSWORD = "velvet-otter-drums-quietly"


@pytest.fixture
def admin_settings(make_settings: SettingsFactory, migrated_settings: Settings) -> Settings:
    return make_settings(
        DATABASE_URL=migrated_settings.database.url, ADMIN_EMAIL=" Root@Example.com ", ADMIN_PASSWORD=ADMIN_PASSWORD
    )


async def started(settings: Settings) -> Container:
    container = build_container(settings, role="api")
    await container.startup()
    return container


@pytest.fixture
async def container(migrated_settings: Settings) -> AsyncIterator[Container]:
    built = build_container(migrated_settings, role="cli")
    yield built
    await built.shutdown()


async def test_the_configured_admin_is_created_once_at_start(admin_settings: Settings) -> None:
    with capture_logs() as logs:
        first = await started(admin_settings)
        await first.shutdown()
        second = await started(admin_settings)  # a restart, or a second instance
    try:
        async with second.uow(read_only=True) as tx:
            admins, total = await tx.users.search(query="root", limit=10, offset=0)
        assert total == 1
        (admin,) = admins
        assert (admin.email, admin.role, admin.is_active) == ("root@example.com", Role.ADMIN, True)
        matches, _ = await second.credentials.password_hasher.verify(ADMIN_PASSWORD, admin.password_hash)
        assert matches
        assert len(logs.events("admin_created")) == 1
        assert ADMIN_PASSWORD not in logs.text()
    finally:
        await second.shutdown()


async def test_an_existing_account_with_the_admin_email_is_left_alone(admin_settings: Settings) -> None:
    member_container = build_container(admin_settings, role="cli")
    try:
        await member_container.use_cases.identity.register_user(
            RegisterUserCommand(email="root@example.com", password="a-member-chose-this-one", display_name="Member")
        )
    finally:
        await member_container.shutdown()

    api = await started(admin_settings)
    try:
        async with api.uow(read_only=True) as tx:
            user = await tx.users.get_by_email("root@example.com")
        assert user is not None
        assert user.role == Role.CREATOR
        assert (await api.credentials.password_hasher.verify("a-member-chose-this-one", user.password_hash))[0]
    finally:
        await api.shutdown()


async def test_no_admin_is_created_without_the_settings(migrated_settings: Settings) -> None:
    api = await started(migrated_settings)
    try:
        async with api.uow(read_only=True) as tx:
            assert (await tx.users.search(query=None, limit=10, offset=0))[1] == 0
    finally:
        await api.shutdown()


def test_a_weak_admin_password_is_a_bad_setting_with_a_readable_error(make_settings: SettingsFactory) -> None:
    for weak in ("password123", "short", "root@example.com"):
        with pytest.raises(ConfigError, match="ADMIN_PASSWORD") as raised:
            make_settings(ADMIN_EMAIL="root@example.com", ADMIN_PASSWORD=weak)
        assert weak not in str(raised.value)
        assert "\n" not in str(raised.value)


def test_admin_email_and_password_come_together(make_settings: SettingsFactory) -> None:
    with pytest.raises(ConfigError, match="ADMIN_PASSWORD"):
        make_settings(ADMIN_EMAIL="root@example.com")
    with pytest.raises(ConfigError, match="ADMIN_EMAIL"):
        make_settings(ADMIN_PASSWORD=ADMIN_PASSWORD)
    with pytest.raises(ConfigError, match="ADMIN_EMAIL"):
        make_settings(ADMIN_EMAIL="not-an-email", ADMIN_PASSWORD=ADMIN_PASSWORD)
    settings = make_settings(ADMIN_EMAIL="root@example.com", ADMIN_PASSWORD=ADMIN_PASSWORD)
    assert settings.masked()["ADMIN_PASSWORD"] == "****"
    assert ADMIN_PASSWORD not in repr(settings)


def test_identity_settings_are_read_and_checked(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        ACCESS_TOKEN_TTL_SECONDS=300, REFRESH_TOKEN_TTL_DAYS=7, JWT_ISSUER="me", JWT_AUDIENCE="my-api"
    )
    assert (settings.identity.access_token_ttl_seconds, settings.identity.refresh_token_ttl_days) == (300, 7)
    assert (settings.identity.jwt_issuer, settings.identity.jwt_audience) == ("me", "my-api")
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_TTL_SECONDS"):
        make_settings(ACCESS_TOKEN_TTL_SECONDS=0)
    with pytest.raises(ConfigError, match="REFRESH_TOKEN_TTL_DAYS"):
        make_settings(REFRESH_TOKEN_TTL_DAYS="a month")


async def test_the_prune_job_deletes_expired_refresh_tokens(container: Container) -> None:
    user = await container.use_cases.identity.register_user(
        RegisterUserCommand(email="ada@example.com", password="correct horse battery", display_name="Ada")
    )
    now = container.clock.now()
    async with container.uow() as tx:
        # Two sessions that ended yesterday, one that is live.
        for digest, issued in (("old-1", now - timedelta(days=2)), ("old-2", now - timedelta(days=2)), ("live", now)):
            await tx.refresh_tokens.add(
                RefreshToken.start_family(
                    user_id=user.id,
                    token_hash=digest,
                    now=issued,
                    lifetime=timedelta(days=1),
                    id=uuid7(),
                    family_id=uuid7(),
                )
            )

    result = await container.use_cases.system.prune_expired(PruneExpiredCommand(batch_size=1))

    assert result.deleted["refresh_tokens"] == 2
    async with container.uow(read_only=True) as tx:
        assert await tx.refresh_tokens.get_by_hash("live") is not None
        assert await tx.refresh_tokens.get_by_hash("old-1") is None
