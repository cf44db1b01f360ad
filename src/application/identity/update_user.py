"""UpdateUser: an admin changes an account's role, tier and status (users:manage)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from src.application.admin.audit import record_audit
from src.application.identity.access_state import UserAccessStates
from src.application.identity.admin_users import require_manager
from src.application.identity.ports import AuditedIdentityTransaction
from src.application.identity.views import UserView
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditTarget
from src.domain.identity.errors import CannotChangeOwnAccess, UserNotFound
from src.domain.identity.model import Permission, Principal, Role, Tier, User, permissions_of


@dataclass(frozen=True, slots=True)
class UpdateUserCommand:
    user_id: uuid.UUID
    role: Role | None = None
    tier: Tier | None = None
    is_active: bool | None = None


class UpdateUser:
    """Change role, tier and status. Deactivation ends every session at once (API keys stop working
    while the account is inactive and work again if it is reactivated). Nobody changes their own
    access: demoting or deactivating yourself, or changing your own tier, is refused."""

    def __init__(
        self, uow: UnitOfWorkFactory[AuditedIdentityTransaction], clock: Clock, access_state: UserAccessStates
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._access_state = access_state

    async def __call__(self, principal: Principal, command: UpdateUserCommand) -> UserView:
        require_manager(principal)
        if command.user_id == principal.user_id and (
            (command.role is not None and Permission.USERS_MANAGE not in permissions_of(command.role))
            or command.is_active is False
        ):
            raise CannotChangeOwnAccess()
        now = self._clock.now()
        async with self._uow() as tx:
            user = await tx.users.get(command.user_id)
            if user is None:
                raise UserNotFound()
            if command.user_id == principal.user_id and command.tier is not None and command.tier != user.tier:
                raise CannotChangeOwnAccess("another admin sets your tier")
            before_role, before_tier, was_active = user.role, user.tier, user.is_active
            if command.role is not None:
                user.set_role(command.role, now=now)
            if command.tier is not None:
                user.set_tier(command.tier, now=now)
            if command.is_active is True:
                user.activate(now=now)
            elif command.is_active is False:
                user.deactivate(now=now)
                await tx.refresh_tokens.revoke_all_for_user(user.id, now)
            await tx.users.save(user)
            await _audit_changes(tx, principal, user, before_role, before_tier, was_active, now=now)
        await self._access_state.forget(user.id)
        return UserView.of(user)


async def _audit_changes(
    tx: AuditedIdentityTransaction,
    principal: Principal,
    user: User,
    before_role: Role,
    before_tier: Tier,
    was_active: bool,
    *,
    now: datetime,
) -> None:
    """One audit event per access change that happened (a PATCH that changes nothing records nothing)."""
    if user.role != before_role:
        data = {"from": before_role.value, "to": user.role.value}
        await record_audit(tx, principal, AuditAction.USER_ROLE_CHANGED, AuditTarget.USER, user.id, now=now, data=data)
    if user.tier != before_tier:
        data = {"from": before_tier.value, "to": user.tier.value}
        await record_audit(tx, principal, AuditAction.USER_TIER_CHANGED, AuditTarget.USER, user.id, now=now, data=data)
    if user.is_active != was_active:
        action = AuditAction.USER_REACTIVATED if user.is_active else AuditAction.USER_DEACTIVATED
        await record_audit(tx, principal, action, AuditTarget.USER, user.id, now=now, data={"email": user.email})
