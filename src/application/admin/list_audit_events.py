"""ListAuditEvents: a page of the log, newest first; with ``query.after``, the events after it, oldest first
(``audit:read``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.admin.ports import AuditTransaction
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.admin.audit import AuditEvent, AuditQuery
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal


class ListAuditEvents:
    """A page of the log, newest first; with ``query.after``, the events after it, oldest first (``audit:read``)."""

    def __init__(self, uow: UnitOfWorkFactory[AuditTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: AuditQuery) -> AuditPage:
        if not principal.can(Permission.AUDIT_READ):
            raise Forbidden("This needs the audit:read permission")
        async with self._uow(read_only=True) as tx:
            # One more than asked: whether an older page exists, without counting the whole log.
            found = await tx.audit.page(query, limit=query.limit + 1)
        items = found[: query.limit]
        more = len(found) > query.limit and query.after is None
        return AuditPage(items=items, limit=query.limit, next_before=items[-1].id if more else None)


@dataclass(frozen=True, slots=True)
class AuditPage:
    items: list[AuditEvent]
    limit: int
    #: Pass as ``before`` for the next (older) page; ``None`` on the last page.
    next_before: uuid.UUID | None
