"""The signed-in user's own account: read it, rename, change the password, deactivate."""

from __future__ import annotations

import uuid

from src.application.admin.audit import record_audit
from src.application.identity.access_state import UserAccessStates
from src.application.identity.ports import AuditedIdentityTransaction, CommonPasswords, PasswordHasher
from src.application.identity.views import UserView
from src.application.shared.events import record_event
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditTarget
from src.domain.identity.errors import InvalidCredentials, PasswordUnchanged, UserNotFound
from src.domain.identity.events import PasswordChanged
from src.domain.identity.model import Principal
from src.domain.identity.passwords import check_password_policy


class GetProfile:
    def __init__(self, uow: UnitOfWorkFactory[AuditedIdentityTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> UserView:
        async with self._uow(read_only=True) as tx:
            user = await tx.users.get(principal.user_id)
        if user is None:
            raise UserNotFound()
        return UserView.of(user)


class UpdateProfile:
    def __init__(self, uow: UnitOfWorkFactory[AuditedIdentityTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, display_name: str | None = None, bio: str | None = None) -> UserView:
        """Only what is given changes (``None``: left as it is)."""
        now = self._clock.now()
        async with self._uow() as tx:
            user = await tx.users.get(principal.user_id)
            if user is None:
                raise UserNotFound()
            if display_name is not None:
                user.rename(display_name, now=now)
            if bio is not None:
                user.describe(bio, now=now)
            await tx.users.save(user)
        return UserView.of(user)


class ChangePassword:
    """Needs the current password. Every other session ends, and so do all access tokens (the
    caller's too: it refreshes with the session it kept, or signs in again)."""

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

    async def __call__(
        self,
        principal: Principal,
        current_password: str,
        new_password: str,
        keep_family: uuid.UUID | None = None,
    ) -> None:
        async with self._uow(read_only=True) as tx:
            user = await tx.users.get(principal.user_id)
        if user is None:
            raise UserNotFound()
        # The slow hashing runs between the two transactions, holding no lock.
        matches, _ = await self._hasher.verify(current_password, user.password_hash)
        if not matches:
            raise InvalidCredentials("the current password is wrong")
        if new_password == current_password:
            # Accepting it would sign every other session out for nothing.
            raise PasswordUnchanged("choose a password different from the current one")
        check_password_policy(new_password, email=user.email, common_passwords=self._common_passwords)
        new_hash = await self._hasher.hash(new_password)
        now = self._clock.now()
        async with self._uow() as tx:
            current = await tx.users.get(user.id)
            # Changed by someone else in the meantime: the password just checked is no longer it.
            if current is None or current.password_hash != user.password_hash:
                raise InvalidCredentials("the current password is wrong")
            current.change_password_hash(new_hash, now=now)
            await tx.users.save(current)
            await tx.refresh_tokens.revoke_all_for_user(current.id, now, except_family=keep_family)
            await record_event(tx, PasswordChanged(event_id=new_id(now), occurred_at=now, user_id=current.id))
        await self._access_state.forget(user.id)


class DeactivateAccount:
    """The user closes their own account: it can no longer sign in, and every session and API key ends."""

    def __init__(
        self, uow: UnitOfWorkFactory[AuditedIdentityTransaction], clock: Clock, access_state: UserAccessStates
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._access_state = access_state

    async def __call__(self, principal: Principal) -> None:
        now = self._clock.now()
        async with self._uow() as tx:
            user = await tx.users.get(principal.user_id)
            if user is None:
                raise UserNotFound()
            was_active = user.is_active
            user.deactivate(now=now)
            await tx.users.save(user)
            await tx.refresh_tokens.revoke_all_for_user(user.id, now)
            revoked: list[str] = []
            for key in await tx.api_keys.list_for_user(user.id):
                if key.revoked_at is None:
                    key.revoke(now)
                    await tx.api_keys.save(key)
                    revoked.append(key.key_hash)
            if was_active:
                await record_audit(
                    tx,
                    principal,
                    AuditAction.USER_DEACTIVATED,
                    AuditTarget.USER,
                    user.id,
                    now=now,
                    data={"email": user.email, "by_self": True, "revoked_api_keys": len(revoked)},
                )
        await self._access_state.forget_api_keys(revoked)  # before the sockets check again
        await self._access_state.forget(user.id)
