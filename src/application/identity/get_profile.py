"""GetProfile: the signed-in user's own account."""

from __future__ import annotations

from src.application.identity.ports import AuditedIdentityTransaction
from src.application.identity.views import UserView
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.errors import UserNotFound
from src.domain.identity.model import Principal


class GetProfile:
    def __init__(self, uow: UnitOfWorkFactory[AuditedIdentityTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> UserView:
        async with self._uow(read_only=True) as tx:
            user = await tx.users.get(principal.user_id)
        if user is None:
            raise UserNotFound()
        return UserView.of(user)
