"""The identity use cases as the container wires them, on the real adapters (argon2id, JWT, HMAC
digests, SQL repositories) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from src.application.identity.authenticate import AuthenticateCommand
from src.application.identity.create_api_key import CreateApiKeyCommand
from src.application.identity.list_users import ListUsersQuery
from src.application.identity.refresh_session import RefreshSessionCommand
from src.application.identity.revoke_api_key import RevokeApiKeyCommand
from src.application.identity.sign_out_everywhere import SignOutEverywhereCommand
from src.application.identity.views import RegisterUserCommand, SignInCommand, TokenPair
from src.domain.identity.errors import (
    AccountInactive,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    RefreshTokenReused,
    SessionRevoked,
)
from src.domain.identity.model import Principal
from src.infrastructure.container import Container, build_container
from src.infrastructure.settings import Settings

PASSWORD = "correct horse battery"


@pytest.fixture
async def container(migrated_settings: Settings) -> AsyncIterator[Container]:
    built = build_container(migrated_settings, role="cli")
    yield built
    await built.shutdown()


async def registered_and_signed_in(container: Container, email: str = "ada@example.com") -> TokenPair:
    await container.use_cases.identity.register_user(
        RegisterUserCommand(email=email, password=PASSWORD, display_name="Ada")
    )
    return await container.use_cases.identity.sign_in(
        SignInCommand(email=email, password=PASSWORD, client_ip="127.0.0.1")
    )


async def test_register_sign_in_authenticate_and_refresh(container: Container) -> None:
    pair = await registered_and_signed_in(container, " Ada@Example.com ")

    principal = await container.use_cases.identity.authenticate(AuthenticateCommand(pair.access_token))
    assert principal.email == "ada@example.com"
    renewed = await container.use_cases.identity.refresh_session(RefreshSessionCommand(pair.refresh_token))
    assert renewed.refresh_token != pair.refresh_token
    assert (
        await container.use_cases.identity.authenticate(AuthenticateCommand(renewed.access_token))
    ).user_id == principal.user_id
    # The refresh token is opaque and never an access token.
    with pytest.raises(InvalidToken):
        await container.use_cases.identity.authenticate(AuthenticateCommand(renewed.refresh_token))
    with pytest.raises(EmailTaken):
        await container.use_cases.identity.register_user(
            RegisterUserCommand(email="ADA@example.com", password=PASSWORD, display_name="Again")
        )


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(container: Container) -> None:
    await registered_and_signed_in(container)
    with pytest.raises(InvalidCredentials) as wrong:
        await container.use_cases.identity.sign_in(SignInCommand("ada@example.com", "not the password", "127.0.0.2"))
    with pytest.raises(InvalidCredentials) as unknown:
        await container.use_cases.identity.sign_in(SignInCommand("nobody@example.com", "not the password", "127.0.0.2"))
    assert str(wrong.value) == str(unknown.value)


async def test_a_reused_refresh_token_revokes_the_whole_session(container: Container) -> None:
    pair = await registered_and_signed_in(container)
    renewed = await container.use_cases.identity.refresh_session(RefreshSessionCommand(pair.refresh_token))

    with pytest.raises(RefreshTokenReused):
        await container.use_cases.identity.refresh_session(RefreshSessionCommand(pair.refresh_token))  # the stolen copy
    with pytest.raises(SessionRevoked):
        await container.use_cases.identity.refresh_session(
            RefreshSessionCommand(renewed.refresh_token)
        )  # the victim's, revoked too


async def test_two_concurrent_refreshes_with_one_token_yield_one_new_pair(container: Container) -> None:
    pair = await registered_and_signed_in(container)

    outcomes = await asyncio.gather(
        container.use_cases.identity.refresh_session(RefreshSessionCommand(pair.refresh_token)),
        container.use_cases.identity.refresh_session(RefreshSessionCommand(pair.refresh_token)),
        return_exceptions=True,
    )

    winners = [o for o in outcomes if isinstance(o, TokenPair)]
    losers = [o for o in outcomes if isinstance(o, RefreshTokenReused)]
    assert (len(winners), len(losers)) == (1, 1), outcomes


async def test_sign_out_everywhere_ends_sessions_and_access_tokens(container: Container) -> None:
    pair = await registered_and_signed_in(container)
    principal = await container.use_cases.identity.authenticate(AuthenticateCommand(pair.access_token))

    assert await container.use_cases.identity.sign_out_everywhere(principal, SignOutEverywhereCommand()) == 1

    with pytest.raises(InvalidToken):
        await container.use_cases.identity.authenticate(AuthenticateCommand(pair.access_token))
    with pytest.raises(SessionRevoked):
        await container.use_cases.identity.refresh_session(RefreshSessionCommand(pair.refresh_token))


async def test_an_api_key_authenticates_until_revoked_and_deactivation_cuts_access(container: Container) -> None:
    pair = await registered_and_signed_in(container)
    principal = await container.use_cases.identity.authenticate(AuthenticateCommand(pair.access_token))
    created = await container.use_cases.identity.create_api_key(principal, CreateApiKeyCommand("ci"))
    assert created.secret.startswith(created.key.prefix)

    via_key = await container.use_cases.identity.authenticate(AuthenticateCommand(created.secret))
    assert (via_key.user_id, via_key.via) == (principal.user_id, "api_key")
    listed = await container.use_cases.identity.list_api_keys(principal)
    assert [k.name for k in listed] == ["ci"]
    assert listed[0].last_used_at is not None

    await container.use_cases.identity.revoke_api_key(principal, RevokeApiKeyCommand(created.key.id))
    with pytest.raises(InvalidToken):
        await container.use_cases.identity.authenticate(AuthenticateCommand(created.secret))

    await container.use_cases.identity.deactivate_account(principal)
    with pytest.raises((AccountInactive, InvalidToken)):
        await container.use_cases.identity.authenticate(AuthenticateCommand(pair.access_token))
    with pytest.raises(AccountInactive):
        await container.use_cases.identity.sign_in(SignInCommand("ada@example.com", PASSWORD, "127.0.0.1"))


async def test_the_system_principal_lists_and_searches_users(container: Container) -> None:
    for n in range(3):
        await container.use_cases.identity.register_user(
            RegisterUserCommand(email=f"user{n}@example.com", password=PASSWORD, display_name=f"User {n}")
        )
    page = await container.use_cases.identity.list_users(Principal.system(), ListUsersQuery("user", 2, 0))
    assert page.total == 3
    assert [u.email for u in page.items] == ["user2@example.com", "user1@example.com"]
