"""DeactivateAccount: the user closes their own account: it can no longer sign in, and every session and API
key ends."""

from __future__ import annotations

from src.application.admin.audit import record_audit
from src.application.identity.access_state import UserAccessStates
from src.application.identity.ports import AuditedIdentityTransaction
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditTarget
from src.domain.identity.errors import UserNotFound
from src.domain.identity.model import Principal


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
