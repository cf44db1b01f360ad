from __future__ import annotations

import uuid

import pytest

from src.application.identity.authenticate import AuthenticateCommand
from src.application.identity.get_user import GetUserQuery
from src.application.identity.list_users import ListUsersQuery
from src.application.identity.refresh_session import RefreshSessionCommand
from src.application.identity.reset_password import ResetPasswordCommand
from src.application.identity.update_user import UpdateUserCommand
from src.domain.identity.errors import (
    AccountInactive,
    CannotChangeOwnAccess,
    Forbidden,
    InvalidCredentials,
    SessionRevoked,
    UserNotFound,
    WeakPassword,
)
from src.domain.identity.model import Principal, Role, Tier
from src.domain.shared.errors import InvalidInput
from tests.unit.identity.conftest import PASSWORD, World


async def test_members_may_not_use_any_admin_use_case(world: World) -> None:
    creator, _ = await world.session()
    other = await world.user("bob@example.com", name="Bob")
    calls = [
        world.list_users(creator, ListUsersQuery()),
        world.get_user(creator, GetUserQuery(other.id)),
        world.update_user(creator, UpdateUserCommand(other.id, role=Role.ADMIN)),
        world.update_user(creator, UpdateUserCommand(creator.user_id, role=Role.ADMIN)),
        world.reset_password(creator, ResetPasswordCommand(other.id, "a brand new passphrase")),
    ]
    for call in calls:
        with pytest.raises(Forbidden):
            await call
    assert world.db.identity.users[creator.user_id].role == Role.CREATOR
    assert world.db.identity.users[other.id].password_hash.endswith(PASSWORD)


async def test_list_users_searches_email_and_name_newest_first_with_paging(world: World) -> None:
    admin, _ = await world.session("root@example.com", role=Role.ADMIN)
    for i in range(5):
        world.clock.advance(1)
        await world.user(f"user{i}@example.com", name=f"Person {i}")
    world.clock.advance(1)
    await world.user("carol@corp.test", name="Carol Example")

    page = await world.list_users(admin, ListUsersQuery(query=" EXAMPLE ", limit=3, offset=0))
    assert page.total == 7
    assert [u.email for u in page.items] == ["carol@corp.test", "user4@example.com", "user3@example.com"]
    rest = await world.list_users(admin, ListUsersQuery(query="example", limit=3, offset=6))
    assert [u.email for u in rest.items] == ["root@example.com"]
    everyone = await world.list_users(admin, ListUsersQuery(query="  ", limit=100))
    assert everyone.total == 7
    assert (await world.list_users(admin, ListUsersQuery(query="corp"))).total == 1


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (101, 0), (10, -1)])
async def test_list_users_refuses_nonsense_paging(world: World, limit: int, offset: int) -> None:
    with pytest.raises(InvalidInput):
        await world.list_users(Principal.system(), ListUsersQuery(limit=limit, offset=offset))


async def test_get_user_reads_one_or_says_not_found(world: World) -> None:
    user = await world.user()
    assert (await world.get_user(Principal.system(), GetUserQuery(user.id))).email == "ada@example.com"
    with pytest.raises(UserNotFound):
        await world.get_user(Principal.system(), GetUserQuery(uuid.uuid4()))
    with pytest.raises(UserNotFound):
        await world.update_user(Principal.system(), UpdateUserCommand(uuid.uuid4(), tier=Tier.PRO))


async def test_admin_changes_role_and_tier(world: World) -> None:
    admin, _ = await world.session("root@example.com", role=Role.ADMIN)
    user = await world.user()

    view = await world.update_user(admin, UpdateUserCommand(user.id, role=Role.ADMIN, tier=Tier.PRO))

    assert (view.role, view.tier) == (Role.ADMIN, Tier.PRO)
    assert (world.db.identity.users[user.id].role, world.db.identity.users[user.id].tier) == (Role.ADMIN, Tier.PRO)


async def test_admin_deactivates_and_reactivates(world: World) -> None:
    admin, _ = await world.session("root@example.com", role=Role.ADMIN)
    target, pair = await world.session()

    view = await world.update_user(admin, UpdateUserCommand(target.user_id, is_active=False))

    assert view.is_active is False
    with pytest.raises(AccountInactive):
        await world.authenticate(AuthenticateCommand(pair.access_token))
    with pytest.raises(SessionRevoked):
        await world.refresh(RefreshSessionCommand(pair.refresh_token))

    await world.update_user(admin, UpdateUserCommand(target.user_id, is_active=True))
    await world.authenticate(AuthenticateCommand((await world.login()).access_token))


@pytest.mark.parametrize("change", [{"role": Role.CREATOR}, {"is_active": False}])
async def test_an_admin_cannot_demote_or_deactivate_themselves(world: World, change: dict[str, object]) -> None:
    admin, pair = await world.session("root@example.com", role=Role.ADMIN)

    with pytest.raises(CannotChangeOwnAccess):
        await world.update_user(admin, UpdateUserCommand(admin.user_id, **change))  # type: ignore[arg-type]

    assert world.db.identity.users[admin.user_id].role == Role.ADMIN
    assert world.db.identity.users[admin.user_id].is_active
    await world.authenticate(AuthenticateCommand(pair.access_token))


async def test_an_admin_cannot_change_their_own_tier(world: World) -> None:
    admin, _ = await world.session("root@example.com", role=Role.ADMIN)

    with pytest.raises(CannotChangeOwnAccess):
        await world.update_user(admin, UpdateUserCommand(admin.user_id, tier=Tier.PRO))

    assert world.db.identity.users[admin.user_id].tier == Tier.FREE
    # Restating what is already true (a form sent whole) is not a change.
    view = await world.update_user(
        admin, UpdateUserCommand(admin.user_id, role=Role.ADMIN, tier=Tier.FREE, is_active=True)
    )
    assert view.tier == Tier.FREE


async def test_another_admin_may_change_an_admins_tier(world: World) -> None:
    admin, _ = await world.session("root@example.com", role=Role.ADMIN)
    other, _ = await world.session("second@example.com", role=Role.ADMIN)
    view = await world.update_user(other, UpdateUserCommand(admin.user_id, tier=Tier.PRO))
    assert view.tier == Tier.PRO


async def test_reset_password_sets_a_new_one_and_ends_every_session(world: World) -> None:
    target, pair = await world.session()

    await world.reset_password(Principal.system(), ResetPasswordCommand(target.user_id, "a brand new passphrase"))

    with pytest.raises(SessionRevoked):
        await world.refresh(RefreshSessionCommand(pair.refresh_token))
    with pytest.raises(InvalidCredentials):
        await world.login()
    await world.login(password="a brand new passphrase")
    with pytest.raises(WeakPassword):
        await world.reset_password(Principal.system(), ResetPasswordCommand(target.user_id, "short"))
    with pytest.raises(UserNotFound):
        await world.reset_password(Principal.system(), ResetPasswordCommand(uuid.uuid4(), "a brand new passphrase"))
