"""ResetPassword: set a new password for someone who lost theirs; every session of theirs ends."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.admin.audit import record_audit
from src.application.identity.access_state import UserAccessStates
from src.application.identity.admin_users import require_manager
from src.application.identity.ports import AuditedIdentityTransaction, CommonPasswords, PasswordHasher
from src.application.shared.events import record_event
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditTarget
from src.domain.identity.errors import UserNotFound
from src.domain.identity.events import PasswordChanged
from src.domain.identity.model import Principal
from src.domain.identity.passwords import check_password_policy


@dataclass(frozen=True, slots=True)
class ResetPasswordCommand:
    user_id: uuid.UUID
    new_password: str


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

    async def __call__(self, principal: Principal, command: ResetPasswordCommand) -> None:
        require_manager(principal)
        async with self._uow(read_only=True) as tx:
            user = await tx.users.get(command.user_id)
        if user is None:
            raise UserNotFound()
        check_password_policy(command.new_password, email=user.email, common_passwords=self._common_passwords)
        new_hash = await self._hasher.hash(command.new_password)  # outside any transaction: it is slow
        now = self._clock.now()
        async with self._uow() as tx:
            current = await tx.users.get(command.user_id)
            if current is None:
                raise UserNotFound()
            current.change_password_hash(new_hash, now=now)
            await tx.users.save(current)
            await tx.refresh_tokens.revoke_all_for_user(current.id, now)
            await record_event(
                tx, PasswordChanged(event_id=new_id(now), occurred_at=now, user_id=current.id, by="admin")
            )
            await record_audit(tx, principal, AuditAction.USER_PASSWORD_RESET, AuditTarget.USER, current.id, now=now)
        await self._access_state.forget(command.user_id)
