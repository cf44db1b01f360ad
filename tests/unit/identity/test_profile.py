from __future__ import annotations

import pytest

from src.application.identity.authenticate import AuthenticateCommand
from src.application.identity.change_password import ChangePasswordCommand
from src.application.identity.create_api_key import CreateApiKeyCommand
from src.application.identity.refresh_session import RefreshSessionCommand
from src.application.identity.update_profile import UpdateProfileCommand
from src.domain.identity.errors import (
    AccountInactive,
    InvalidCredentials,
    InvalidDisplayName,
    InvalidToken,
    PasswordUnchanged,
    SessionRevoked,
    WeakPassword,
)
from tests.unit.identity.conftest import PASSWORD, World

NEW_PASSWORD = "a brand new passphrase"


async def test_profile_shows_the_callers_own_account(world: World) -> None:
    principal, _ = await world.session()
    await world.session("bob@example.com")
    view = await world.get_profile(principal)
    assert (view.id, view.email, view.display_name) == (principal.user_id, "ada@example.com", "Ada")


async def test_update_profile_renames_and_cleans_the_name(world: World) -> None:
    principal, _ = await world.session()
    world.clock.advance(5)

    view = await world.update_profile(principal, UpdateProfileCommand("  Countess   of Lovelace "))

    assert view.display_name == "Countess of Lovelace"
    assert (await world.get_profile(principal)).display_name == "Countess of Lovelace"
    assert world.db.identity.users[principal.user_id].updated_at == world.clock.now()
    with pytest.raises(InvalidDisplayName):
        await world.update_profile(principal, UpdateProfileCommand(" "))


async def test_change_password_keeps_the_callers_session_and_ends_the_others(world: World) -> None:
    principal, mine = await world.session()
    other = await world.login()
    my_family = world.db.identity.refresh_tokens[next(iter(world.db.identity.refresh_tokens))].family_id

    await world.change_password(principal, ChangePasswordCommand(PASSWORD, NEW_PASSWORD, keep_family=my_family))

    with pytest.raises(SessionRevoked):
        await world.refresh(RefreshSessionCommand(other.refresh_token))
    # All access tokens end (the caller's too); the kept session gives a fresh one.
    for access_token in (mine.access_token, other.access_token):
        with pytest.raises(InvalidToken):
            await world.authenticate(AuthenticateCommand(access_token))
    renewed = await world.refresh(RefreshSessionCommand(mine.refresh_token))
    await world.authenticate(AuthenticateCommand(renewed.access_token))
    # The new password signs in, the old one does not.
    await world.login(password=NEW_PASSWORD)
    with pytest.raises(InvalidCredentials):
        await world.login(password=PASSWORD)


async def test_change_password_without_a_kept_session_ends_them_all(world: World) -> None:
    principal, mine = await world.session()
    await world.change_password(principal, ChangePasswordCommand(PASSWORD, NEW_PASSWORD))
    with pytest.raises(SessionRevoked):
        await world.refresh(RefreshSessionCommand(mine.refresh_token))


async def test_change_password_needs_the_current_one(world: World) -> None:
    principal, mine = await world.session()
    with pytest.raises(InvalidCredentials):
        await world.change_password(principal, ChangePasswordCommand("not the password", NEW_PASSWORD))
    await world.authenticate(AuthenticateCommand(mine.access_token))
    await world.login()


async def test_changing_the_password_to_the_same_one_is_refused_and_ends_nothing(world: World) -> None:
    principal, mine = await world.session()
    other = await world.login()

    with pytest.raises(PasswordUnchanged):
        await world.change_password(principal, ChangePasswordCommand(PASSWORD, PASSWORD, keep_family=None))

    await world.authenticate(AuthenticateCommand(mine.access_token))
    await world.refresh(RefreshSessionCommand(other.refresh_token))
    assert world.access_changes == []


async def test_the_new_password_must_meet_the_policy(world: World) -> None:
    principal, mine = await world.session()
    with pytest.raises(WeakPassword):
        await world.change_password(principal, ChangePasswordCommand(PASSWORD, "qwertyuiop"))
    with pytest.raises(WeakPassword):
        await world.change_password(principal, ChangePasswordCommand(PASSWORD, "ada@example.com"))
    await world.authenticate(AuthenticateCommand(mine.access_token))


async def test_deactivating_ones_account_ends_sessions_keys_and_sign_in(world: World) -> None:
    principal, pair = await world.session()
    created = await world.create_key(principal, CreateApiKeyCommand("ci"))
    await world.authenticate(AuthenticateCommand(pair.access_token))  # cached

    await world.deactivate(principal)

    with pytest.raises(AccountInactive):
        await world.authenticate(AuthenticateCommand(pair.access_token))
    with pytest.raises(InvalidToken):
        await world.authenticate(AuthenticateCommand(created.secret))
    with pytest.raises(SessionRevoked):
        await world.refresh(RefreshSessionCommand(pair.refresh_token))
    with pytest.raises(AccountInactive):
        await world.login()
    assert world.db.identity.api_keys[created.key.id].revoked_at == world.clock.now()
