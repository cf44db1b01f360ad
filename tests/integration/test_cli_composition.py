"""The CLI's lazy container (src/infrastructure/wiring/cli.py) on SQLite and PostgreSQL (and Redis):
it builds only what a command uses, and what it changes reaches the API as the full container's would."""

from __future__ import annotations

from src.application.identity.list_users import ListUsersQuery
from src.application.identity.update_user import UpdateUserCommand
from src.application.identity.views import RegisterUserCommand
from src.domain.identity.model import Principal, Tier
from src.infrastructure.container import build_container
from src.infrastructure.settings import Settings
from src.infrastructure.wiring.cli import CliContainer
from tests.conftest import SettingsFactory

PASSWORD = "velvet-otter-drums-quietly"


def register(email: str) -> RegisterUserCommand:
    return RegisterUserCommand(email=email, password=PASSWORD, display_name=email.partition("@")[0])


async def test_a_command_builds_only_what_its_use_cases_need(migrated_settings: Settings) -> None:
    cli = CliContainer(migrated_settings)
    try:
        assert cli.built() == []  # nothing before a command asks

        await cli.use_cases.identity.register_user(register("ada@example.com"))
        page = await cli.use_cases.identity.list_users(Principal.system(), ListUsersQuery("ada", 10, 0))

        assert [user.email for user in page.items] == ["ada@example.com"]
        assert cli.built() == ["common_passwords", "database", "password_hasher", "uow"]
    finally:
        await cli.shutdown()


async def test_a_change_made_by_the_cli_is_what_every_api_instance_reads(
    make_settings: SettingsFactory, migrated_settings: Settings, redis_url: str
) -> None:
    settings = make_settings(DATABASE_URL=migrated_settings.database.url, REDIS_URL=redis_url)
    cli = CliContainer(settings)
    api = build_container(settings, role="api")
    await api.startup()
    try:
        user = await cli.use_cases.identity.register_user(register("ada@example.com"))
        before = await api.access_states.get(user.id)  # now in the shared (Redis) cache
        assert before is not None
        assert before.tier is Tier.FREE

        await cli.use_cases.identity.update_user(Principal.system(), UpdateUserCommand(user.id, tier=Tier.PRO))

        # An instance that has kept no copy of its own reads through Redis: the CLI's change must have
        # reached the shared cache (a CLI with a cache of its own would leave the old state there).
        other = build_container(settings, role="api")
        try:
            after = await other.access_states.get(user.id)
        finally:
            await other.shutdown()
        assert after is not None
        assert after.tier is Tier.PRO
        assert "redis" in cli.built()
        assert "pubsub" in cli.built()
    finally:
        await cli.shutdown()
        await api.shutdown()


async def test_parley_jobs_list_shows_what_the_full_container_runs(migrated_settings: Settings) -> None:
    from src.infrastructure.queue.schedule import PARLEY_JOBS

    container = build_container(migrated_settings, role="cli")
    try:
        running = [
            (s.name, s.cron, s.timeout_seconds, s.retries, s.retry_delay_seconds, s.max_retry_delay_seconds)
            for s in container.jobs
        ]
    finally:
        await container.shutdown()

    listed = [
        (j.name, j.cron, j.timeout_seconds, j.retries, j.retry_delay_seconds, j.max_retry_delay_seconds)
        for j in PARLEY_JOBS
    ]
    assert running == listed
    assert all(job.purpose for job in PARLEY_JOBS)
