from __future__ import annotations

from datetime import timedelta

import pytest

from src.application.identity.authenticate import AuthenticateCommand
from src.application.identity.create_api_key import CreateApiKeyCommand
from src.application.identity.refresh_session import RefreshSessionCommand
from src.application.identity.sign_out import SignOutCommand
from src.application.identity.sign_out_everywhere import SignOutEverywhereCommand
from src.domain.identity.errors import (
    AccountInactive,
    InvalidToken,
    RefreshTokenReused,
    SessionExpired,
    SessionRevoked,
)
from src.domain.identity.model import Permission, Principal
from tests.unit.identity.conftest import World


async def test_refresh_rotates_the_token_within_the_family(world: World) -> None:
    principal, first = await world.session()
    world.clock.advance(60)

    second = await world.refresh(RefreshSessionCommand(first.refresh_token))

    assert second.refresh_token != first.refresh_token
    assert (await world.authenticate(AuthenticateCommand(second.access_token))).user_id == principal.user_id
    old, new = sorted(world.db.identity.refresh_tokens.values(), key=lambda t: t.issued_at)
    assert old.family_id == new.family_id
    assert old.used_at == world.clock.now()
    assert new.used_at is None
    assert new.revoked_at is None
    assert new.expires_at == world.clock.now() + timedelta(days=30)
    third = await world.refresh(RefreshSessionCommand(second.refresh_token))
    assert third.refresh_token not in {first.refresh_token, second.refresh_token}


async def test_reusing_a_rotated_token_revokes_the_whole_family(world: World) -> None:
    principal, _ = await world.session()
    stolen = await world.login()
    other_session = await world.login()
    current = await world.refresh(RefreshSessionCommand(stolen.refresh_token))

    with pytest.raises(RefreshTokenReused) as caught:
        await world.refresh(RefreshSessionCommand(stolen.refresh_token))

    assert caught.value.extra["user_id"] == str(principal.user_id)
    # The revocation was committed although the call failed: the legitimate holder is out too.
    with pytest.raises(SessionRevoked):
        await world.refresh(RefreshSessionCommand(current.refresh_token))
    with pytest.raises(SessionRevoked):
        await world.refresh(RefreshSessionCommand(stolen.refresh_token))
    # Other sessions of the same user are untouched.
    await world.refresh(RefreshSessionCommand(other_session.refresh_token))


async def test_an_unknown_refresh_token_is_invalid(world: World) -> None:
    await world.session()
    with pytest.raises(InvalidToken):
        await world.refresh(RefreshSessionCommand("rt-never-issued"))


async def test_an_access_token_is_not_a_refresh_token(world: World) -> None:
    _, pair = await world.session()
    with pytest.raises(InvalidToken):
        await world.refresh(RefreshSessionCommand(pair.access_token))


async def test_a_refresh_token_expires_after_its_lifetime(world: World) -> None:
    _, pair = await world.session()
    world.clock.advance(timedelta(days=30).total_seconds() - 1)
    pair = await world.refresh(
        RefreshSessionCommand(pair.refresh_token)
    )  # still valid, and the successor gets 30 more days
    world.clock.advance(timedelta(days=30).total_seconds())

    with pytest.raises(SessionExpired):
        await world.refresh(RefreshSessionCommand(pair.refresh_token))


async def test_refresh_for_a_deactivated_account_is_refused_and_rotates_nothing(world: World) -> None:
    principal, pair = await world.session()
    (token,) = world.db.identity.refresh_tokens.values()
    world.db.identity.users[principal.user_id].is_active = False  # e.g. flipped directly in the database

    with pytest.raises(AccountInactive):
        await world.refresh(RefreshSessionCommand(pair.refresh_token))
    assert world.db.identity.refresh_tokens[token.id].used_at is None
    assert len(world.db.identity.refresh_tokens) == 1


async def test_sign_out_revokes_that_session_only(world: World) -> None:
    principal, pair = await world.session()
    other = await world.login()
    rotated = await world.refresh(RefreshSessionCommand(pair.refresh_token))

    await world.sign_out(
        principal, SignOutCommand(pair.refresh_token)
    )  # an older link of the chain names the session too

    with pytest.raises(SessionRevoked):
        await world.refresh(RefreshSessionCommand(rotated.refresh_token))
    await world.refresh(RefreshSessionCommand(other.refresh_token))


async def test_sign_out_ends_that_sessions_access_tokens_and_no_others(world: World) -> None:
    principal, pair = await world.session()
    other = await world.login()
    await world.authenticate(AuthenticateCommand(pair.access_token))  # the access state is cached now

    await world.sign_out(principal, SignOutCommand(pair.refresh_token))

    with pytest.raises(SessionRevoked):
        await world.authenticate(AuthenticateCommand(pair.access_token))
    await world.authenticate(AuthenticateCommand(other.access_token))
    assert world.access_changes == [principal.user_id]  # every instance hears it (open sockets re-check)
    # Until the signed-out session's tokens would have expired anyway; then nothing is listed any more.
    world.clock.advance(world.tokens.ttl.total_seconds() + 1)
    await world.access.forget(principal.user_id)
    state = await world.access.get(principal.user_id)
    assert state is not None
    assert state.ended_sessions == ()


async def test_a_stolen_refresh_token_coming_back_ends_that_sessions_access_tokens(world: World) -> None:
    _, stolen = await world.session()
    current = await world.refresh(RefreshSessionCommand(stolen.refresh_token))
    await world.authenticate(AuthenticateCommand(current.access_token))

    with pytest.raises(RefreshTokenReused):
        await world.refresh(RefreshSessionCommand(stolen.refresh_token))

    with pytest.raises(SessionRevoked):
        await world.authenticate(AuthenticateCommand(current.access_token))


async def test_sign_out_everywhere_keeps_api_keys_unless_asked_to_revoke_them(world: World) -> None:
    principal, _ = await world.session()
    kept = await world.create_key(principal, CreateApiKeyCommand("ci"))
    await world.sign_out_everywhere(principal, SignOutEverywhereCommand())
    assert (await world.authenticate(AuthenticateCommand(kept.secret))).via == "api_key"

    await world.sign_out_everywhere(principal, SignOutEverywhereCommand(revoke_api_keys=True))

    with pytest.raises(InvalidToken):
        await world.authenticate(AuthenticateCommand(kept.secret))
    assert all(key.revoked_at is not None for key in world.db.identity.api_keys.values())


async def test_sign_out_with_another_users_token_is_invalid_and_revokes_nothing(world: World) -> None:
    alice, _ = await world.session("alice@example.com")
    _, bobs = await world.session("bob@example.com")

    with pytest.raises(InvalidToken):
        await world.sign_out(alice, SignOutCommand(bobs.refresh_token))

    assert all(t.revoked_at is None for t in world.db.identity.refresh_tokens.values())
    await world.refresh(RefreshSessionCommand(bobs.refresh_token))


async def test_sign_out_with_an_unknown_token_is_invalid(world: World) -> None:
    principal, _ = await world.session()
    with pytest.raises(InvalidToken):
        await world.sign_out(principal, SignOutCommand("rt-never-issued"))


async def test_sign_out_everywhere_ends_every_session_and_access_token(world: World) -> None:
    principal, first = await world.session()
    second = await world.login()
    rotated = await world.refresh(RefreshSessionCommand(second.refresh_token))
    _, bobs = await world.session("bob@example.com")

    revoked = await world.sign_out_everywhere(principal, SignOutEverywhereCommand())

    assert revoked == 2  # sessions, not token rows
    for refresh_token in (first.refresh_token, rotated.refresh_token):
        with pytest.raises(SessionRevoked):
            await world.refresh(RefreshSessionCommand(refresh_token))
    for access_token in (first.access_token, rotated.access_token):
        with pytest.raises(InvalidToken):
            await world.authenticate(AuthenticateCommand(access_token))
    # Signing in again works, and another user is untouched.
    await world.authenticate(AuthenticateCommand((await world.login()).access_token))
    await world.authenticate(AuthenticateCommand(bobs.access_token))
    await world.refresh(RefreshSessionCommand(bobs.refresh_token))


async def test_the_system_principal_has_every_permission_and_no_account(world: World) -> None:
    system = Principal.system()
    assert system.user_id.int == 0
    assert system.via == "system"
    assert all(system.can(p) for p in Permission)
