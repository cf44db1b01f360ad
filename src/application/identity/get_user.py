"""GetUser: one account by id (users:manage)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.identity.admin_users import require_manager
from src.application.identity.ports import AuditedIdentityTransaction
from src.application.identity.views import UserView
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.errors import UserNotFound
from src.domain.identity.model import Principal


@dataclass(frozen=True, slots=True)
class GetUserQuery:
    user_id: uuid.UUID


class GetUser:
    def __init__(self, uow: UnitOfWorkFactory[AuditedIdentityTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: GetUserQuery) -> UserView:
        require_manager(principal)
        async with self._uow(read_only=True) as tx:
            user = await tx.users.get(query.user_id)
        if user is None:
            raise UserNotFound()
        return UserView.of(user)
