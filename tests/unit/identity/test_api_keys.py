from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest

from src.application.identity.api_keys import MAX_ACTIVE_API_KEYS
from src.application.identity.authenticate import AuthenticateCommand
from src.application.identity.create_api_key import CreateApiKeyCommand
from src.application.identity.revoke_api_key import RevokeApiKeyCommand
from src.domain.identity.errors import (
    ApiKeyNotFound,
    Forbidden,
    InvalidApiKeyExpiry,
    InvalidApiKeyName,
    InvalidToken,
    TooManyApiKeys,
)
from src.domain.identity.model import Permission
from tests.unit.identity.conftest import World


async def test_a_new_key_is_shown_once_and_stored_only_as_a_digest(world: World) -> None:
    principal, _ = await world.session()

    created = await world.create_key(principal, CreateApiKeyCommand("  deploy   bot ", expires_in_days=90))

    assert created.secret.startswith("pk_")
    assert created.key.name == "deploy bot"
    assert created.key.prefix == created.secret[:11]
    assert created.key.expires_at == world.clock.now() + timedelta(days=90)
    assert created.key.last_used_at is None
    stored = world.db.identity.api_keys[created.key.id]
    assert stored.key_hash == world.secrets.digest(created.secret)
    assert created.secret not in repr(stored)


async def test_keys_are_listed_without_their_secret_and_revocation_is_immediate(world: World) -> None:
    principal, _ = await world.session()
    first = await world.create_key(principal, CreateApiKeyCommand("first"))
    second = await world.create_key(principal, CreateApiKeyCommand("second"))

    listed = await world.list_keys(principal)
    assert [k.name for k in listed] == ["first", "second"]
    assert all(not hasattr(k, "secret") for k in listed)

    await world.revoke_key(principal, RevokeApiKeyCommand(first.key.id))

    assert [k.id for k in await world.list_keys(principal)] == [second.key.id]
    with pytest.raises(InvalidToken):
        await world.authenticate(AuthenticateCommand(first.secret))
    with pytest.raises(ApiKeyNotFound):
        await world.revoke_key(principal, RevokeApiKeyCommand(first.key.id))  # already revoked


async def test_users_see_and_revoke_only_their_own_keys(world: World) -> None:
    alice, _ = await world.session("alice@example.com")
    bob, _ = await world.session("bob@example.com")
    alices = await world.create_key(alice, CreateApiKeyCommand("alice's"))
    await world.create_key(bob, CreateApiKeyCommand("bob's"))

    assert [k.name for k in await world.list_keys(bob)] == ["bob's"]
    with pytest.raises(ApiKeyNotFound):
        await world.revoke_key(bob, RevokeApiKeyCommand(alices.key.id))  # not Forbidden: do not reveal it exists
    with pytest.raises(ApiKeyNotFound):
        await world.revoke_key(bob, RevokeApiKeyCommand(uuid.uuid4()))
    assert world.db.identity.api_keys[alices.key.id].revoked_at is None
    assert (await world.authenticate(AuthenticateCommand(alices.secret))).user_id == alice.user_id


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
async def test_key_names_are_1_to_100_characters(world: World, name: str) -> None:
    principal, _ = await world.session()
    with pytest.raises(InvalidApiKeyName):
        await world.create_key(principal, CreateApiKeyCommand(name))


@pytest.mark.parametrize("days", [0, -1, 3651])
async def test_key_expiry_is_1_to_3650_days(world: World, days: int) -> None:
    principal, _ = await world.session()
    with pytest.raises(InvalidApiKeyExpiry):
        await world.create_key(principal, CreateApiKeyCommand("ci", expires_in_days=days))
    await world.create_key(principal, CreateApiKeyCommand("ci", expires_in_days=3650))


async def test_at_most_25_active_keys_per_user(world: World) -> None:
    principal, _ = await world.session()
    bob, _ = await world.session("bob@example.com")
    keys = [await world.create_key(principal, CreateApiKeyCommand(f"key {i}")) for i in range(MAX_ACTIVE_API_KEYS)]

    with pytest.raises(TooManyApiKeys):
        await world.create_key(principal, CreateApiKeyCommand("one too many"))
    await world.create_key(bob, CreateApiKeyCommand("bob is not affected"))

    await world.revoke_key(principal, RevokeApiKeyCommand(keys[0].key.id))
    await world.create_key(principal, CreateApiKeyCommand("room again"))


async def test_expired_keys_do_not_count_against_the_limit(world: World) -> None:
    principal, _ = await world.session()
    for i in range(MAX_ACTIVE_API_KEYS):
        await world.create_key(principal, CreateApiKeyCommand(f"key {i}", expires_in_days=1))
    world.clock.advance(86400)
    await world.create_key(principal, CreateApiKeyCommand("fresh"))


async def test_a_principal_without_the_permission_cannot_manage_keys(world: World) -> None:
    principal, _ = await world.session()
    limited = dataclasses.replace(principal, permissions=principal.permissions - {Permission.API_KEYS_MANAGE})
    created = await world.create_key(principal, CreateApiKeyCommand("ci"))
    for call in (
        world.create_key(limited, CreateApiKeyCommand("ci")),
        world.list_keys(limited),
        world.revoke_key(limited, RevokeApiKeyCommand(created.key.id)),
    ):
        with pytest.raises(Forbidden):
            await call
