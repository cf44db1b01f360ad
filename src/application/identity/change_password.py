"""ChangePassword: needs the current password. Every other session ends, and so do all access tokens (the
caller's too: it refreshes with the session it kept, or signs in again)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.identity.access_state import UserAccessStates
from src.application.identity.ports import AuditedIdentityTransaction, CommonPasswords, PasswordHasher
from src.application.shared.events import record_event
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.errors import InvalidCredentials, PasswordUnchanged, UserNotFound
from src.domain.identity.events import PasswordChanged
from src.domain.identity.model import Principal
from src.domain.identity.passwords import check_password_policy


@dataclass(frozen=True, slots=True)
class ChangePasswordCommand:
    current_password: str
    new_password: str
    keep_family: uuid.UUID | None = None


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

    async def __call__(self, principal: Principal, command: ChangePasswordCommand) -> None:
        async with self._uow(read_only=True) as tx:
            user = await tx.users.get(principal.user_id)
        if user is None:
            raise UserNotFound()
        # The slow hashing runs between the two transactions, holding no lock.
        matches, _ = await self._hasher.verify(command.current_password, user.password_hash)
        if not matches:
            raise InvalidCredentials("the current password is wrong")
        if command.new_password == command.current_password:
            # Accepting it would sign every other session out for nothing.
            raise PasswordUnchanged("choose a password different from the current one")
        check_password_policy(command.new_password, email=user.email, common_passwords=self._common_passwords)
        new_hash = await self._hasher.hash(command.new_password)
        now = self._clock.now()
        async with self._uow() as tx:
            current = await tx.users.get(user.id)
            # Changed by someone else in the meantime: the password just checked is no longer it.
            if current is None or current.password_hash != user.password_hash:
                raise InvalidCredentials("the current password is wrong")
            current.change_password_hash(new_hash, now=now)
            await tx.users.save(current)
            await tx.refresh_tokens.revoke_all_for_user(current.id, now, except_family=command.keep_family)
            await record_event(tx, PasswordChanged(event_id=new_id(now), occurred_at=now, user_id=current.id))
        await self._access_state.forget(user.id)
