"""ResolveModerationItem: a moderator decides on a queued item (moderation:manage)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from src.application.admin.audit import record_audit
from src.application.admin.moderation import ModerationTransaction, require_moderator
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditTarget
from src.domain.admin.moderation import (
    ModerationItemNotFound,
)
from src.domain.ai.moderation_queue import (
    ModerationAction,
    ModerationItem,
    ModerationItemKind,
)
from src.domain.identity.model import Principal
from src.domain.shared.errors import InvalidInput


class ResolveModerationItem:
    def __init__(self, uow: UnitOfWorkFactory[ModerationTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: ResolveModerationItemCommand) -> ModerationItem:
        require_moderator(principal)
        try:
            action = ModerationAction(command.action)
        except ValueError:
            raise InvalidInput("action must be dismiss, hide or delete", extra={"field": "action"}) from None
        now = self._clock.now()
        async with self._uow() as tx:
            item = await tx.moderation_items.get(command.item_id)
            if item is None:
                raise ModerationItemNotFound()
            resolved = item.resolve(
                action, by=None if principal.is_system else principal.user_id, note=command.note, now=now
            )
            content_found = await _apply(tx, resolved, action, now=now)
            await tx.moderation_items.save(resolved)
            also = await tx.moderation_items.resolve_open_for(_same_content(item.kind), item.target_id, resolved)
            await record_audit(
                tx,
                principal,
                _AUDIT_ACTIONS[action],
                AuditTarget.MODERATION_ITEM,
                item.id,
                now=now,
                data={
                    "kind": item.kind.value,
                    "content_id": str(item.target_id),
                    "author_id": str(item.user_id) if item.user_id else None,
                    "reasons": list(item.reasons),
                    "note": resolved.resolution_note,
                    "content_found": content_found,
                    "also_resolved": also,
                },
            )
        return resolved


@dataclass(frozen=True, slots=True)
class ResolveModerationItemCommand:
    item_id: uuid.UUID
    action: str
    note: str | None = None


_AUDIT_ACTIONS = {
    ModerationAction.DISMISS: AuditAction.MODERATION_DISMISSED,
    ModerationAction.HIDE: AuditAction.MODERATION_HIDDEN,
    ModerationAction.DELETE: AuditAction.MODERATION_DELETED,
}


def _same_content(kind: ModerationItemKind) -> tuple[ModerationItemKind, ...]:
    """The kinds whose items may be about the same stored content as an item of ``kind``."""
    if kind in (ModerationItemKind.MESSAGE, ModerationItemKind.REPLY):
        return (ModerationItemKind.MESSAGE, ModerationItemKind.REPLY)
    return (kind,)


async def _apply(tx: ModerationTransaction, item: ModerationItem, action: ModerationAction, *, now: datetime) -> bool:
    """Hide or delete the item's content; whether the content was still there."""
    if action is ModerationAction.DISMISS or not item.kind.is_content:
        return True
    if item.kind is ModerationItemKind.ARTICLE:
        article = await tx.articles.get(item.target_id)
        if article is None:
            return False
        if action is ModerationAction.DELETE:
            await tx.articles.delete(article.id)
        else:
            article.hide(now=now)
            await tx.articles.save(article)
        return True
    message = await tx.messages.get(item.target_id)
    if message is None:
        return False
    if action is ModerationAction.DELETE:
        await tx.messages.delete(message.id)
    # Hiding a message changes no one's view: a conversation is its owner's alone (and staff's), and
    # the owner is the author the rule keeps it for. The decision is on the item and in the audit log.
    return True
