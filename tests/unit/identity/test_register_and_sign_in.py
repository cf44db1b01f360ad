from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from src.application.identity.authenticate import AuthenticateCommand
from src.application.identity.update_user import UpdateUserCommand
from src.application.identity.views import RegisterUserCommand
from src.application.shared.ids import new_id
from src.domain.identity.errors import (
    AccountInactive,
    EmailTaken,
    InvalidCredentials,
    InvalidDisplayName,
    InvalidEmail,
    SignInThrottled,
    WeakPassword,
)
from src.domain.identity.model import Principal, Role, Tier
from tests.unit.identity.conftest import CLIENT_IP, PASSWORD, World


async def test_register_normalises_email_and_name_and_stores_only_a_hash(world: World) -> None:
    view = await world.register(RegisterUserCommand("  Ada@Example.COM ", PASSWORD, "  Ada   Lovelace "))

    assert view.email == "ada@example.com"
    assert view.display_name == "Ada Lovelace"
    assert (view.role, view.tier, view.is_active) == (Role.CREATOR, Tier.FREE, True)
    assert view.created_at == world.clock.now()
    stored = world.db.identity.users[view.id]
    assert stored.password_hash != PASSWORD
    assert await world.hasher.verify(PASSWORD, stored.password_hash) == (True, None)
    assert view.id.version == 7


async def test_register_can_create_an_admin_on_the_pro_tier(world: World) -> None:
    view = await world.user("root@example.com", role=Role.ADMIN, tier=Tier.PRO)
    assert (view.role, view.tier) == (Role.ADMIN, Tier.PRO)


async def test_the_same_email_in_another_case_is_taken(world: World) -> None:
    await world.user("ada@example.com")
    with pytest.raises(EmailTaken):
        await world.register(RegisterUserCommand("ADA@example.com ", "another strong one", "Imposter"))
    assert len(world.db.identity.users) == 1


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short1", "length"),
        ("ada@example.com", "not_email"),
        ("ADA@example.com", "not_email"),
        ("password123", "common"),
    ],
)
async def test_weak_passwords_are_refused_naming_the_rule(world: World, password: str, rule: str) -> None:
    with pytest.raises(WeakPassword) as caught:
        await world.register(RegisterUserCommand("ada@example.com", password, "Ada"))
    assert caught.value.extra == {"rule": rule}
    assert world.db.identity.users == {}


@pytest.mark.parametrize("email", ["ada", "ada@", "@example.com", "ada@localhost", "a b@example.com", "ada@@x.com"])
async def test_malformed_emails_are_refused(world: World, email: str) -> None:
    with pytest.raises(InvalidEmail):
        await world.register(RegisterUserCommand(email, PASSWORD, "Ada"))


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
async def test_display_name_must_be_1_to_100_characters(world: World, name: str) -> None:
    with pytest.raises(InvalidDisplayName):
        await world.register(RegisterUserCommand("ada@example.com", PASSWORD, name))


def test_new_ids_are_uuid7_ordered_by_time() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [new_id(start + timedelta(milliseconds=i)) for i in range(50)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len({new_id(start) for _ in range(100)}) == 100


async def test_sign_in_returns_a_usable_token_pair_and_starts_a_session(world: World) -> None:
    user = await world.user()

    pair = await world.login(" ADA@example.com ")

    assert pair.token_type == "bearer"
    assert pair.expires_in == 900
    principal = await world.authenticate(AuthenticateCommand(pair.access_token))
    assert principal.user_id == user.id
    (token,) = world.db.identity.refresh_tokens.values()
    assert token.user_id == user.id
    assert token.token_hash == world.secrets.digest(pair.refresh_token)
    assert token.token_hash != pair.refresh_token
    assert token.expires_at == world.clock.now() + timedelta(days=30)


async def test_each_sign_in_starts_its_own_family(world: World) -> None:
    await world.user()
    await world.login()
    await world.login()
    assert len({t.family_id for t in world.db.identity.refresh_tokens.values()}) == 2


async def test_unknown_email_and_wrong_password_get_the_same_answer(world: World) -> None:
    await world.user()

    with pytest.raises(InvalidCredentials) as wrong:
        await world.login(password="not the password")
    with pytest.raises(InvalidCredentials) as unknown:
        await world.login("nobody@example.com")

    assert (wrong.value.code, wrong.value.detail) == (unknown.value.code, unknown.value.detail)
    assert world.hasher.dummy_checks == 1  # the unknown user still cost a hash check
    assert world.db.identity.refresh_tokens == {}


async def test_a_malformed_email_at_sign_in_is_just_invalid_credentials(world: World) -> None:
    with pytest.raises(InvalidCredentials):
        await world.login("not-an-email")
    assert world.hasher.dummy_checks == 1


async def test_five_failures_throttle_even_the_right_password(world: World) -> None:
    await world.user()
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await world.login(password="guess guess guess")

    with pytest.raises(SignInThrottled) as caught:
        await world.login()  # the right password: refused before it is checked
    checks_before = len(world.hasher.verified)
    with pytest.raises(SignInThrottled):
        await world.login()

    assert caught.value.kind == "rate_limited"
    assert caught.value.code == "too_many_attempts"
    assert caught.value.extra["retry_after"] == 180  # GCRA: one more try every 15 min / 5
    assert len(world.hasher.verified) == checks_before  # no password was checked while throttled


async def test_throttling_is_per_address_and_email(world: World) -> None:
    await world.user()
    await world.user("bob@example.com", name="Bob")
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await world.login(password="guess guess guess")

    await world.login(ip="198.51.100.1")  # same email, another address
    await world.login("bob@example.com", ip=CLIENT_IP)  # same address, another email
    await world.login("  ADA@EXAMPLE.com", ip="198.51.100.1")


async def test_unknown_emails_are_throttled_too(world: World) -> None:
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await world.login("nobody@example.com")
    with pytest.raises(SignInThrottled):
        await world.login("nobody@example.com")


async def test_successful_sign_ins_are_never_throttled(world: World) -> None:
    await world.user()
    for _ in range(20):
        await world.login()


async def test_throttling_ends_when_the_window_refills(world: World) -> None:
    await world.user()
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await world.login(password="guess guess guess")
    with pytest.raises(SignInThrottled):
        await world.login()

    world.clock.advance(180)

    await world.login()


async def test_a_deactivated_account_is_told_so_only_with_the_right_password(world: World) -> None:
    user = await world.user()
    await world.update_user(Principal.system(), UpdateUserCommand(user.id, is_active=False))

    with pytest.raises(InvalidCredentials):
        await world.login(password="not the password")
    with pytest.raises(AccountInactive):
        await world.login()
    assert all(t.revoked_at is not None for t in world.db.identity.refresh_tokens.values())


async def test_sign_in_rehashes_an_outdated_hash_and_sessions_survive(world: World) -> None:
    user = await world.user()
    old_pair = await world.login()
    world.hasher.version = 2

    await world.login()

    assert world.db.identity.users[user.id].password_hash == "fake$v2$" + PASSWORD
    assert world.db.identity.users[user.id].token_version == 0
    await world.authenticate(AuthenticateCommand(old_pair.access_token))  # a rehash is not a password change
    world.hasher.verified.clear()
    await world.login()
    assert world.db.identity.users[user.id].password_hash == "fake$v2$" + PASSWORD


async def test_sign_in_holds_no_write_transaction_while_checking_the_password(world: World) -> None:
    await world.user()
    world.db.opened.clear()
    with pytest.raises(InvalidCredentials):
        await world.login(password="not the password")
    assert world.db.opened == ["read"]
