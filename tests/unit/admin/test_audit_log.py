"""The audit log on the in-memory fakes: which use cases record what, with whom and from where, in
their own transaction; reading pages of it; the retention prune."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from src.application.admin.list_audit_events import ListAuditEvents
from src.application.admin.prune_audit_events import PruneAuditEvents, PruneAuditEventsCommand
from src.application.identity.create_api_key import CreateApiKeyCommand
from src.application.identity.refresh_session import RefreshSessionCommand
from src.application.identity.reset_password import ResetPasswordCommand
from src.application.identity.revoke_api_key import RevokeApiKeyCommand
from src.application.identity.update_user import UpdateUserCommand
from src.application.notifications.publish_announcement import PublishAnnouncement, PublishAnnouncementCommand
from src.application.usage.set_user_budget import SetUserBudget, SetUserBudgetCommand
from src.domain.admin.audit import AuditAction, AuditEvent, AuditQuery, AuditTarget, first_id_at, parse_action
from src.domain.identity.errors import (
    CannotChangeOwnAccess,
    Forbidden,
    InvalidCredentials,
    RefreshTokenReused,
    SignInThrottled,
)
from src.domain.identity.model import Principal, Role, Tier
from src.domain.shared.errors import InvalidInput
from src.domain.usage.model import TierBudgets
from tests.unit.identity.conftest import CLIENT_IP, LOGIN_POLICY, World

ADMIN_IP = "198.51.100.4"


@pytest.fixture
def world() -> World:
    return World()


def events(world: World, action: AuditAction | None = None) -> list[AuditEvent]:
    found = list(world.db.admin.audit.values())  # as written (one transaction's events share a millisecond)
    return [e for e in found if action is None or e.action is action]


async def admin_session(world: World) -> Principal:
    admin, _ = await world.session("root@example.com", role=Role.ADMIN)
    return dataclasses.replace(admin, client_ip=ADMIN_IP)


async def test_role_tier_and_status_changes_record_who_did_what_from_where(world: World) -> None:
    admin = await admin_session(world)
    bob = await world.user("bob@example.com", name="Bob")

    await world.update_user(admin, UpdateUserCommand(bob.id, role=Role.ADMIN, tier=Tier.PRO, is_active=False))

    recorded = events(world)
    assert [e.action for e in recorded] == [
        AuditAction.USER_ROLE_CHANGED,
        AuditAction.USER_TIER_CHANGED,
        AuditAction.USER_DEACTIVATED,
    ]
    role = recorded[0]
    assert (role.actor_id, role.actor_ip, role.target_type, role.target_id) == (
        admin.user_id,
        ADMIN_IP,
        AuditTarget.USER,
        str(bob.id),
    )
    assert role.data == {"from": "creator", "to": "admin", "via": "access_token"}
    assert recorded[1].data["from"] == "free"
    assert recorded[1].data["to"] == "pro"

    await world.update_user(admin, UpdateUserCommand(bob.id, is_active=True))
    assert events(world)[-1].action is AuditAction.USER_REACTIVATED


async def test_a_change_that_changes_nothing_or_is_refused_records_nothing(world: World) -> None:
    admin = await admin_session(world)
    bob = await world.user("bob@example.com", name="Bob")
    await world.update_user(admin, UpdateUserCommand(bob.id, role=Role.CREATOR, tier=Tier.FREE, is_active=True))
    with pytest.raises(CannotChangeOwnAccess):
        await world.update_user(admin, UpdateUserCommand(admin.user_id, tier=Tier.PRO))
    assert events(world) == []


async def test_the_cli_operator_is_recorded_as_the_system_without_an_account(world: World) -> None:
    bob = await world.user("bob@example.com", name="Bob")
    await world.update_user(Principal.system(), UpdateUserCommand(bob.id, tier=Tier.PRO))
    await world.reset_password(Principal.system(), ResetPasswordCommand(bob.id, "a brand new passphrase"))
    tier, reset = events(world)
    assert tier.actor_id is None
    assert tier.actor_ip is None
    assert tier.data["via"] == "system"
    assert reset.action is AuditAction.USER_PASSWORD_RESET
    assert reset.target_id == str(bob.id)


async def test_api_keys_created_and_revoked_are_recorded_without_the_secret(world: World) -> None:
    member, _ = await world.session()
    created = await world.create_key(dataclasses.replace(member, client_ip=CLIENT_IP), CreateApiKeyCommand("ci"))
    await world.revoke_key(member, RevokeApiKeyCommand(created.key.id))
    made, revoked = events(world)
    assert (made.action, revoked.action) == (AuditAction.API_KEY_CREATED, AuditAction.API_KEY_REVOKED)
    assert made.target_id == revoked.target_id == str(created.key.id)
    assert made.actor_ip == CLIENT_IP
    assert made.data["prefix"] == created.key.prefix
    assert created.secret not in repr(made.data)


async def test_budget_changes_and_announcements_are_recorded(world: World) -> None:
    admin = await admin_session(world)
    bob = await world.user("bob@example.com", name="Bob")
    budgets = TierBudgets(free_micros=5_000_000, pro_micros=50_000_000)
    set_budget = SetUserBudget(world.uow, budgets, world.clock)
    await set_budget(admin, SetUserBudgetCommand(bob.id, Decimal("12.50")))
    await set_budget(admin, SetUserBudgetCommand(bob.id, "12.50"))  # the same: nothing changed, nothing recorded
    await set_budget(admin, SetUserBudgetCommand(bob.id, None))
    await PublishAnnouncement(world.uow, world.clock)(
        admin, PublishAnnouncementCommand("Maintenance", "Tonight at ten.", "all")
    )

    first, second, announced = events(world)
    assert first.data["from_micros"] is None
    assert first.data["to_micros"] == 12_500_000
    assert second.data["from_micros"] == 12_500_000
    assert second.data["to_micros"] is None
    assert announced.action is AuditAction.ANNOUNCEMENT_PUBLISHED
    assert announced.data["title"] == "Maintenance"
    assert announced.actor_ip == ADMIN_IP


async def test_sign_in_throttling_is_recorded_once_per_spent_allowance(world: World) -> None:
    await world.user()
    for _ in range(LOGIN_POLICY.limit):
        with pytest.raises(InvalidCredentials):
            await world.login(password="not the password")
    for _ in range(3):  # refused before the password is checked: no more events
        with pytest.raises(SignInThrottled):
            await world.login(password="not the password")

    (throttled,) = events(world)
    assert throttled.action is AuditAction.SIGN_IN_THROTTLED
    assert throttled.actor_id is None
    assert throttled.actor_ip == CLIENT_IP
    assert throttled.target_id == str(world.db.identity.users[next(iter(world.db.identity.users))].id)
    assert throttled.data == {"email": "ada@example.com", "via": "anonymous"}


async def test_a_reused_refresh_token_is_recorded_with_the_presenters_address(world: World) -> None:
    _, pair = await world.session()
    await world.refresh(RefreshSessionCommand(pair.refresh_token))
    with pytest.raises(RefreshTokenReused):
        await world.refresh(RefreshSessionCommand(pair.refresh_token, client_ip="192.0.2.66"))
    (reuse,) = events(world)
    assert reuse.action is AuditAction.REFRESH_TOKEN_REUSED
    assert reuse.target_type is AuditTarget.SESSION
    assert reuse.actor_id is None
    assert reuse.actor_ip == "192.0.2.66"


async def test_pages_go_newest_first_with_filters_and_need_audit_read(world: World) -> None:
    admin = await admin_session(world)
    others = [await world.user(f"u{n}@example.com", name=f"U{n}") for n in range(3)]
    for user in others:
        world.clock.advance(1)
        await world.update_user(admin, UpdateUserCommand(user.id, tier=Tier.PRO))
        world.clock.advance(1)
        await world.update_user(admin, UpdateUserCommand(user.id, is_active=False))
    list_events = ListAuditEvents(world.uow)

    first = await list_events(admin, AuditQuery(limit=4))
    assert [e.target_id for e in first.items] == [str(others[2].id)] * 2 + [str(others[1].id)] * 2
    assert first.items[0].action is AuditAction.USER_DEACTIVATED
    rest = await list_events(admin, AuditQuery(limit=4, before=first.next_before))
    assert len(rest.items) == 2
    assert rest.next_before is None

    tiers = await list_events(admin, AuditQuery(action=AuditAction.USER_TIER_CHANGED))
    assert len(tiers.items) == 3
    assert all(e.action is AuditAction.USER_TIER_CHANGED for e in tiers.items)
    about_one = await list_events(admin, AuditQuery(target_id=str(others[0].id)))
    assert len(about_one.items) == 2
    by_admin = await list_events(admin, AuditQuery(actor_id=admin.user_id, limit=200))
    assert len(by_admin.items) == 6
    assert (await list_events(admin, AuditQuery(actor_id=uuid.uuid4()))).items == []

    # Following: the events from a moment on, oldest first.
    last_two = await list_events(admin, AuditQuery(after=first_id_at(world.clock.now() - timedelta(seconds=1))))
    assert [e.action for e in last_two.items] == [AuditAction.USER_TIER_CHANGED, AuditAction.USER_DEACTIVATED]
    last = await list_events(admin, AuditQuery(after=first_id_at(world.clock.now() - timedelta(seconds=0.5))))
    assert [e.action for e in last.items] == [AuditAction.USER_DEACTIVATED]

    member, _ = await world.session("eve@example.com")
    with pytest.raises(Forbidden):
        await list_events(member, AuditQuery())


def test_queries_and_actions_are_validated() -> None:
    with pytest.raises(InvalidInput):
        AuditQuery(limit=0)
    with pytest.raises(InvalidInput):
        AuditQuery(limit=201)
    with pytest.raises(InvalidInput):
        AuditQuery(target_id="x" * 101)
    with pytest.raises(InvalidInput) as unknown:
        parse_action("user.deleted_everything")
    assert "user.role_changed" in str(unknown.value)
    assert parse_action(" api_key.created ") is AuditAction.API_KEY_CREATED


async def test_the_prune_deletes_only_events_older_than_the_retention(world: World) -> None:
    admin = await admin_session(world)
    bob = await world.user("bob@example.com", name="Bob")
    await world.update_user(admin, UpdateUserCommand(bob.id, tier=Tier.PRO))
    world.clock.advance(timedelta(days=300).total_seconds())
    await world.update_user(admin, UpdateUserCommand(bob.id, tier=Tier.FREE))
    world.clock.advance(timedelta(days=100).total_seconds())

    result = await PruneAuditEvents(world.uow, world.clock, timedelta(days=365))(PruneAuditEventsCommand(batch_size=1))
    assert result.deleted == 1
    (kept,) = events(world)
    assert kept.data["to"] == "free"


async def test_closing_ones_own_account_is_recorded_with_the_keys_it_revoked(world: World) -> None:
    member, _ = await world.session()
    await world.create_key(member, CreateApiKeyCommand("ci"))
    await world.deactivate(dataclasses.replace(member, client_ip=CLIENT_IP))
    closed = events(world, AuditAction.USER_DEACTIVATED)
    assert len(closed) == 1
    assert closed[0].actor_id == member.user_id
    assert closed[0].target_id == str(member.user_id)
    assert closed[0].data["by_self"] is True
    assert closed[0].data["revoked_api_keys"] == 1
