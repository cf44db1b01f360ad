"""The four roles: what each may do (guards check permissions, never role names), the default role of a
sign-up, role changes by an admin, and the ``member`` role of tokens issued before the split."""

from __future__ import annotations

import pytest

from src.application.identity.authenticate import AuthenticateCommand
from src.application.identity.refresh_session import RefreshSessionCommand
from src.application.identity.register_user import RegisterUser
from src.application.identity.update_user import UpdateUserCommand
from src.application.identity.views import RegisterUserCommand
from src.domain.identity.errors import CannotChangeOwnAccess
from src.domain.identity.model import ROLE_PERMISSIONS, Permission, Role, permissions_of
from tests.unit.identity.conftest import PASSWORD, World


def test_each_role_has_the_permissions_its_work_needs() -> None:
    viewer, creator = permissions_of(Role.VIEWER), permissions_of(Role.CREATOR)
    moderator, admin = permissions_of(Role.MODERATOR), permissions_of(Role.ADMIN)
    # Viewers read, chat and keep private notes; they neither publish nor generate.
    assert {Permission.CHAT_USE, Permission.KNOWLEDGE_READ, Permission.KNOWLEDGE_WRITE} <= viewer
    assert Permission.KNOWLEDGE_PUBLISH not in viewer
    assert Permission.AI_GENERATE not in viewer
    # Creators add publishing and generation.
    assert creator - viewer == {Permission.KNOWLEDGE_PUBLISH, Permission.AI_GENERATE}
    # Moderators add the queue and read-only analytics, and manage no users.
    assert moderator - creator == {Permission.MODERATION_MANAGE, Permission.ANALYTICS_READ}
    assert Permission.USERS_MANAGE not in moderator
    assert Permission.SYSTEM_READ not in moderator
    assert Permission.AUDIT_READ not in moderator
    # Admins have everything.
    assert admin == frozenset(Permission)
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_member_is_no_longer_a_role_but_tokens_issued_as_member_still_parse() -> None:
    assert [r.value for r in Role] == ["admin", "moderator", "creator", "viewer"]
    with pytest.raises(ValueError, match="member"):
        Role("member")
    assert Role.from_issued("member") is Role.CREATOR
    assert Role.from_issued("viewer") is Role.VIEWER
    with pytest.raises(ValueError):
        Role.from_issued("superuser")


async def test_sign_ups_get_the_default_role_and_an_explicit_role_wins(world: World) -> None:
    creator = await world.register(RegisterUserCommand("ada@example.com", PASSWORD, "Ada"))
    assert creator.role is Role.CREATOR

    viewers = RegisterUser(world.uow, world.hasher, world.clock, world.common, default_role=Role.VIEWER)
    viewer = await viewers(RegisterUserCommand("bob@example.com", PASSWORD, "Bob"))
    assert viewer.role is Role.VIEWER
    admin = await viewers(RegisterUserCommand("root@example.com", PASSWORD, "Root", role=Role.ADMIN))
    assert admin.role is Role.ADMIN


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MODERATOR, Role.CREATOR])
async def test_an_admin_gives_any_role_and_it_takes_effect_on_the_next_request(world: World, role: Role) -> None:
    admin, _ = await world.session("root@example.com", role=Role.ADMIN)
    ada, pair = await world.session("ada@example.com", role=Role.CREATOR if role is not Role.CREATOR else Role.VIEWER)

    view = await world.update_user(admin, UpdateUserCommand(ada.user_id, role=role))

    assert view.role is role
    # The role change ends the old access tokens; a fresh session carries the new permissions.
    refreshed = await world.refresh(RefreshSessionCommand(pair.refresh_token))
    principal = await world.authenticate(AuthenticateCommand(refreshed.access_token))
    assert principal.role is role
    assert principal.permissions == permissions_of(role)


async def test_an_admin_cannot_make_themselves_a_moderator(world: World) -> None:
    admin, _ = await world.session("root@example.com", role=Role.ADMIN)
    with pytest.raises(CannotChangeOwnAccess):
        await world.update_user(admin, UpdateUserCommand(admin.user_id, role=Role.MODERATOR))
