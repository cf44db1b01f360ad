"""What an admin (or the CLI, as ``Principal.system()``) does to accounts. Every use case here
requires ``users:manage``."""

from __future__ import annotations

import uuid
from datetime import datetime

from src.application.admin.audit import record_audit
from src.application.identity.access_state import UserAccessStates
from src.application.identity.ports import AuditedIdentityTransaction, CommonPasswords, PasswordHasher
from src.application.identity.views import Page, UserView
from src.application.shared.events import record_event
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditTarget
from src.domain.identity.errors import CannotChangeOwnAccess, Forbidden, UserNotFound
from src.domain.identity.events import PasswordChanged
from src.domain.identity.model import Permission, Principal, Role, Tier, User, permissions_of
from src.domain.identity.passwords import check_password_policy
from src.domain.shared.errors import InvalidInput

MAX_PAGE_SIZE = 100
MAX_QUERY_LENGTH = 200


def _require_manager(principal: Principal) -> None:
    if not principal.can(Permission.USERS_MANAGE):
        raise Forbidden()


class ListUsers:
    def __init__(self, uow: UnitOfWorkFactory[AuditedIdentityTransaction]) -> None:
        self._uow = uow

    async def __call__(
        self, principal: Principal, query: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[UserView]:
        _require_manager(principal)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        if offset < 0:
            raise InvalidInput("offset must not be negative")
        cleaned = (query or "").strip() or None
        if cleaned is not None and len(cleaned) > MAX_QUERY_LENGTH:
            raise InvalidInput(f"the search text must be at most {MAX_QUERY_LENGTH} characters")
        async with self._uow(read_only=True) as tx:
            users, total = await tx.users.search(query=cleaned, limit=limit, offset=offset)
        return Page(items=[UserView.of(u) for u in users], total=total, limit=limit, offset=offset)


class GetUser:
    def __init__(self, uow: UnitOfWorkFactory[AuditedIdentityTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, user_id: uuid.UUID) -> UserView:
        _require_manager(principal)
        async with self._uow(read_only=True) as tx:
            user = await tx.users.get(user_id)
        if user is None:
            raise UserNotFound()
        return UserView.of(user)


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

    async def __call__(
        self,
        principal: Principal,
        user_id: uuid.UUID,
        role: Role | None = None,
        tier: Tier | None = None,
        is_active: bool | None = None,
    ) -> UserView:
        _require_manager(principal)
        if user_id == principal.user_id and (
            (role is not None and Permission.USERS_MANAGE not in permissions_of(role)) or is_active is False
        ):
            raise CannotChangeOwnAccess()
        now = self._clock.now()
        async with self._uow() as tx:
            user = await tx.users.get(user_id)
            if user is None:
                raise UserNotFound()
            if user_id == principal.user_id and tier is not None and tier != user.tier:
                raise CannotChangeOwnAccess("another admin sets your tier")
            before_role, before_tier, was_active = user.role, user.tier, user.is_active
            if role is not None:
                user.set_role(role, now=now)
            if tier is not None:
                user.set_tier(tier, now=now)
            if is_active is True:
                user.activate(now=now)
            elif is_active is False:
                user.deactivate(now=now)
                await tx.refresh_tokens.revoke_all_for_user(user.id, now)
            await tx.users.save(user)
            await _audit_changes(tx, principal, user, before_role, before_tier, was_active, now=now)
        await self._access_state.forget(user.id)
        return UserView.of(user)


class ResetPassword:
    """Set a new password for someone who lost theirs; every session of theirs ends."""

    def __init__(
        self,
        uow: UnitOfWorkFactory[AuditedIdentityTransaction],
        hasher: PasswordHasher,
        clock: Clock,
        common_passwords: CommonPasswords,
        access_state: UserAccessStates,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock
        self._common_passwords = common_passwords
        self._access_state = access_state

    async def __call__(self, principal: Principal, user_id: uuid.UUID, new_password: str) -> None:
        _require_manager(principal)
        async with self._uow(read_only=True) as tx:
            user = await tx.users.get(user_id)
        if user is None:
            raise UserNotFound()
        check_password_policy(new_password, email=user.email, common_passwords=self._common_passwords)
        new_hash = await self._hasher.hash(new_password)  # outside any transaction: it is slow
        now = self._clock.now()
        async with self._uow() as tx:
            current = await tx.users.get(user_id)
            if current is None:
                raise UserNotFound()
            current.change_password_hash(new_hash, now=now)
            await tx.users.save(current)
            await tx.refresh_tokens.revoke_all_for_user(current.id, now)
            await record_event(
                tx, PasswordChanged(event_id=new_id(now), occurred_at=now, user_id=current.id, by="admin")
            )
            await record_audit(tx, principal, AuditAction.USER_PASSWORD_RESET, AuditTarget.USER, current.id, now=now)
        await self._access_state.forget(user_id)


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
