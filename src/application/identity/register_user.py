"""RegisterUser: a new account (the public sign-up, ``parley users create`` and the admin bootstrap)."""

from __future__ import annotations

from src.application.identity.ports import CommonPasswords, IdentityTransaction, PasswordHasher
from src.application.identity.views import RegisterUserCommand, UserView
from src.application.shared.events import record_event
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.errors import EmailTaken
from src.domain.identity.events import UserRegistered
from src.domain.identity.model import Role, User, clean_display_name, normalise_email
from src.domain.identity.passwords import check_password_policy

__all__ = ["RegisterUser", "RegisterUserCommand"]


class RegisterUser:
    def __init__(
        self,
        uow: UnitOfWorkFactory[IdentityTransaction],
        hasher: PasswordHasher,
        clock: Clock,
        common_passwords: CommonPasswords,
        *,
        default_role: Role = Role.CREATOR,
    ) -> None:
        self._uow = uow
        self._default_role = default_role
        self._hasher = hasher
        self._clock = clock
        self._common_passwords = common_passwords

    async def __call__(self, command: RegisterUserCommand) -> UserView:
        email = normalise_email(command.email)
        display_name = clean_display_name(command.display_name)
        check_password_policy(command.password, email=email, common_passwords=self._common_passwords)
        # Hash before the transaction opens: argon2 is slow and must not hold a write lock.
        password_hash = await self._hasher.hash(command.password)
        now = self._clock.now()
        user = User(
            id=new_id(now),
            email=email,
            display_name=display_name,
            password_hash=password_hash,
            role=command.role or self._default_role,
            tier=command.tier,
            is_active=True,
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as tx:
            if await tx.users.get_by_email(email) is not None:
                raise EmailTaken(f"{email} is already registered")
            await tx.users.add(user)  # raises EmailTaken too when a concurrent sign-up won the race
            await record_event(
                tx, UserRegistered(event_id=new_id(now), occurred_at=now, user_id=user.id, display_name=display_name)
            )
        return UserView.of(user)
