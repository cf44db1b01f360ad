from __future__ import annotations

import asyncio

import pytest

from src.application.identity.access_state import ACCESS_STATE_TTL_SECONDS
from src.application.identity.authenticate import AuthenticateCommand
from src.application.identity.create_api_key import CreateApiKeyCommand
from src.application.identity.refresh_session import RefreshSessionCommand
from src.application.identity.revoke_api_key import RevokeApiKeyCommand
from src.application.identity.sign_out_everywhere import SignOutEverywhereCommand
from src.application.identity.update_user import UpdateUserCommand
from src.domain.identity.errors import AccountInactive, InvalidToken
from src.domain.identity.model import Permission, Principal, Role, Tier
from tests.unit.identity.conftest import World


async def test_an_access_token_authenticates_with_the_users_permissions(world: World) -> None:
    principal, _ = await world.session()
    assert principal.via == "access_token"
    assert principal.email == "ada@example.com"
    assert (principal.role, principal.tier) == (Role.CREATOR, Tier.FREE)
    assert principal.can(Permission.CHAT_USE)
    assert not principal.can(Permission.USERS_MANAGE)
    assert principal.api_key_id is None


@pytest.mark.parametrize("bearer", ["", "   ", "garbage", "at.{not json", "pk_unknownkey"])
async def test_anything_else_is_an_invalid_token(world: World, bearer: str) -> None:
    await world.session()
    with pytest.raises(InvalidToken):
        await world.authenticate(AuthenticateCommand(bearer))


async def test_an_expired_access_token_is_refused(world: World) -> None:
    _, pair = await world.session()
    world.clock.advance(15 * 60)
    with pytest.raises(InvalidToken):
        await world.authenticate(AuthenticateCommand(pair.access_token))


async def test_a_token_of_a_user_that_no_longer_exists_is_refused(world: World) -> None:
    principal, pair = await world.session()
    del world.db.identity.users[principal.user_id]
    await world.access.forget(principal.user_id)
    with pytest.raises(InvalidToken):
        await world.authenticate(AuthenticateCommand(pair.access_token))


async def test_access_state_is_cached_so_requests_read_no_database(world: World) -> None:
    principal, pair = await world.session()
    world.db.opened.clear()

    for _ in range(5):
        await world.authenticate(AuthenticateCommand(pair.access_token))

    assert world.db.opened == []
    assert world.cache.ttls[f"identity:access:{principal.user_id}"] == ACCESS_STATE_TTL_SECONDS


async def test_a_stale_cache_entry_is_read_until_it_is_forgotten(world: World) -> None:
    principal, pair = await world.session()
    world.db.identity.users[principal.user_id].is_active = False  # behind the use cases' back: no forget()
    await world.authenticate(AuthenticateCommand(pair.access_token))

    await world.access.forget(principal.user_id)

    with pytest.raises(AccountInactive):
        await world.authenticate(AuthenticateCommand(pair.access_token))


async def test_deactivation_cuts_access_on_the_next_request(world: World) -> None:
    principal, pair = await world.session()
    await world.authenticate(AuthenticateCommand(pair.access_token))  # the state is now cached

    await world.update_user(Principal.system(), UpdateUserCommand(principal.user_id, is_active=False))

    with pytest.raises(AccountInactive):
        await world.authenticate(AuthenticateCommand(pair.access_token))


async def test_an_inactive_users_api_key_is_refused(world: World) -> None:
    principal, _ = await world.session()
    created = await world.create_key(principal, CreateApiKeyCommand("ci"))
    await world.authenticate(AuthenticateCommand(created.secret))

    world.db.identity.users[principal.user_id].is_active = False
    await world.access.forget(principal.user_id)

    with pytest.raises(AccountInactive):
        await world.authenticate(AuthenticateCommand(created.secret))


async def test_a_token_issued_before_a_role_change_is_stale(world: World) -> None:
    principal, pair = await world.session()
    await world.update_user(Principal.system(), UpdateUserCommand(principal.user_id, role=Role.ADMIN))

    with pytest.raises(InvalidToken):
        await world.authenticate(AuthenticateCommand(pair.access_token))
    fresh = await world.authenticate(
        AuthenticateCommand((await world.refresh(RefreshSessionCommand(pair.refresh_token))).access_token)
    )
    assert fresh.can(Permission.USERS_MANAGE)


async def test_a_tier_change_shows_on_the_next_request_without_ending_the_token(world: World) -> None:
    principal, pair = await world.session()
    await world.update_user(Principal.system(), UpdateUserCommand(principal.user_id, tier=Tier.PRO))
    assert (await world.authenticate(AuthenticateCommand(pair.access_token))).tier == Tier.PRO


async def test_an_api_key_authenticates_as_its_owner(world: World) -> None:
    principal, _ = await world.session()
    created = await world.create_key(principal, CreateApiKeyCommand("ci"))

    by_key = await world.authenticate(AuthenticateCommand(created.secret))

    assert by_key.user_id == principal.user_id
    assert by_key.via == "api_key"
    assert by_key.api_key_id == created.key.id
    assert by_key.permissions == principal.permissions


async def test_api_keys_survive_sign_out_everywhere(world: World) -> None:
    principal, _ = await world.session()
    created = await world.create_key(principal, CreateApiKeyCommand("ci"))
    await world.sign_out_everywhere(principal, SignOutEverywhereCommand())
    await world.authenticate(AuthenticateCommand(created.secret))


async def test_api_key_last_used_is_written_at_most_once_a_minute(world: World) -> None:
    principal, _ = await world.session()
    created = await world.create_key(principal, CreateApiKeyCommand("ci"))
    start = world.clock.now()

    await world.authenticate(AuthenticateCommand(created.secret))
    world.clock.advance(30)
    world.db.opened.clear()
    await world.authenticate(AuthenticateCommand(created.secret))
    assert world.db.opened == []  # the key and the account's state come from the cache
    assert world.db.identity.api_keys[created.key.id].last_used_at == start

    world.clock.advance(30)
    await world.authenticate(AuthenticateCommand(created.secret))
    assert world.db.identity.api_keys[created.key.id].last_used_at == world.clock.now()


async def test_concurrent_requests_with_a_stale_last_used_write_it_once(world: World) -> None:
    principal, _ = await world.session()
    created = await world.create_key(principal, CreateApiKeyCommand("service"))
    await world.authenticate(AuthenticateCommand(created.secret))
    world.clock.advance(61)
    world.db.opened.clear()
    await asyncio.gather(*(world.authenticate(AuthenticateCommand(created.secret)) for _ in range(10)))
    assert world.db.opened.count("write") == 1
    assert world.db.identity.api_keys[created.key.id].last_used_at == world.clock.now()


async def test_a_cached_api_key_is_refused_as_soon_as_it_is_revoked(world: World) -> None:
    principal, _ = await world.session()
    one = await world.create_key(principal, CreateApiKeyCommand("one"))
    two = await world.create_key(principal, CreateApiKeyCommand("two"))
    three = await world.create_key(principal, CreateApiKeyCommand("three"))
    for key in (one, two, three):
        await world.authenticate(AuthenticateCommand(key.secret))  # now cached
    world.db.opened.clear()
    await world.authenticate(AuthenticateCommand(one.secret))
    assert world.db.opened == []

    await world.revoke_key(principal, RevokeApiKeyCommand(one.key.id))
    with pytest.raises(InvalidToken):
        await world.authenticate(AuthenticateCommand(one.secret))
    await world.authenticate(AuthenticateCommand(two.secret))
    await world.sign_out_everywhere(principal, SignOutEverywhereCommand(revoke_api_keys=True))
    for key in (two, three):
        with pytest.raises(InvalidToken):
            await world.authenticate(AuthenticateCommand(key.secret))


async def test_a_revoked_or_expired_api_key_is_refused(world: World) -> None:
    principal, _ = await world.session()
    revoked = await world.create_key(principal, CreateApiKeyCommand("old"))
    expiring = await world.create_key(principal, CreateApiKeyCommand("short", expires_in_days=1))
    await world.revoke_key(principal, RevokeApiKeyCommand(revoked.key.id))

    with pytest.raises(InvalidToken):
        await world.authenticate(AuthenticateCommand(revoked.secret))
    await world.authenticate(AuthenticateCommand(expiring.secret))
    world.clock.advance(86400)
    with pytest.raises(InvalidToken):
        await world.authenticate(AuthenticateCommand(expiring.secret))


async def test_revoking_a_key_tells_the_owners_open_connections_to_check_again(world: World) -> None:
    """An open WebSocket authenticated with the key re-checks its credentials and is closed."""
    principal, _ = await world.session()
    created = await world.create_key(principal, CreateApiKeyCommand("ci"))
    await world.authenticate(AuthenticateCommand(created.secret))
    world.access_changes.clear()
    await world.revoke_key(principal, RevokeApiKeyCommand(created.key.id))
    assert world.access_changes == [principal.user_id]
    with pytest.raises(InvalidToken):
        await world.authenticate(AuthenticateCommand(created.secret, allow_expired=True))
