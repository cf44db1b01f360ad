"""ListUsers: the accounts, searched by email or name, a page at a time (users:manage)."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.identity.admin_users import MAX_PAGE_SIZE, MAX_QUERY_LENGTH, require_manager
from src.application.identity.ports import AuditedIdentityTransaction
from src.application.identity.views import Page, UserView
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.model import Principal
from src.domain.shared.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class ListUsersQuery:
    query: str | None = None
    limit: int = 50
    offset: int = 0


class ListUsers:
    def __init__(self, uow: UnitOfWorkFactory[AuditedIdentityTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: ListUsersQuery) -> Page[UserView]:
        require_manager(principal)
        if not 1 <= query.limit <= MAX_PAGE_SIZE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        if query.offset < 0:
            raise InvalidInput("offset must not be negative")
        cleaned = (query.query or "").strip() or None
        if cleaned is not None and len(cleaned) > MAX_QUERY_LENGTH:
            raise InvalidInput(f"the search text must be at most {MAX_QUERY_LENGTH} characters")
        async with self._uow(read_only=True) as tx:
            users, total = await tx.users.search(query=cleaned, limit=query.limit, offset=query.offset)
        return Page(items=[UserView.of(u) for u in users], total=total, limit=query.limit, offset=query.offset)
