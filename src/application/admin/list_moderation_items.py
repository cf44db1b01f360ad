"""ListModerationItems: a page of the moderation queue (moderation:manage)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.admin.moderation import KIND_FILTERS, MAX_MODERATION_PAGE, ModerationTransaction, require_moderator
from src.application.admin.ports import ModerationFilter
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.ai.moderation_queue import (
    ModerationItem,
    ModerationItemStatus,
)
from src.domain.identity.model import Principal
from src.domain.shared.errors import InvalidInput


class ListModerationItems:
    def __init__(self, uow: UnitOfWorkFactory[ModerationTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: ListModerationItemsQuery) -> ModerationPage:
        require_moderator(principal)
        if not 1 <= query.limit <= MAX_MODERATION_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_MODERATION_PAGE}", extra={"field": "limit"})
        try:
            status = ModerationItemStatus(query.status)
        except ValueError:
            raise InvalidInput("status must be open or resolved", extra={"field": "status"}) from None
        if query.kind is not None and query.kind not in KIND_FILTERS:
            raise InvalidInput(f"kind must be one of {', '.join(KIND_FILTERS)}", extra={"field": "kind"})
        kinds = KIND_FILTERS[query.kind] if query.kind is not None else ()
        async with self._uow(read_only=True) as tx:
            found = await tx.moderation_items.page(
                ModerationFilter(status=status, kinds=kinds, before=query.before, limit=query.limit + 1)
            )
        items = found[: query.limit]
        return ModerationPage(
            items=items, limit=query.limit, next_before=items[-1].id if len(found) > query.limit else None
        )


@dataclass(frozen=True, slots=True)
class ListModerationItemsQuery:
    status: str = "open"
    kind: str | None = None
    before: uuid.UUID | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class ModerationPage:
    items: list[ModerationItem]
    limit: int
    next_before: uuid.UUID | None
