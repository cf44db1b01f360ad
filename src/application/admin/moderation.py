"""The moderation queue, worked by staff (``moderation:manage``), and members' reports that feed it.

Items come from the scanners (prompt injection, ``MODERATE_CHAT``) and from reports. Resolving one
dismisses it, hides the content (a hidden public article is read by its author and staff only) or
deletes it, and records the decision in the audit log, all in one transaction. Open items about the
same content are resolved with it: one decision per piece of content.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from src.application.admin.audit import record_audit
from src.application.admin.ports import AdminTransaction, ModerationFilter
from src.application.chat.access import owned_message
from src.application.chat.ports import ChatTransaction
from src.application.knowledge.articles import readable_article
from src.application.knowledge.ports import KnowledgeTransaction
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditTarget
from src.domain.admin.moderation import (
    AlreadyReported,
    ContentReport,
    ModerationItemNotFound,
    ReportedContentNotFound,
    ReportKind,
    clean_report_reason,
    parse_report_kind,
)
from src.domain.ai.moderation_queue import (
    USER_REPORT_REASON,
    ModerationAction,
    ModerationItem,
    ModerationItemKind,
    ModerationItemStatus,
    excerpt_of,
)
from src.domain.chat.errors import ConversationNotFound, MessageNotFound
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.errors import ArticleNotFound
from src.domain.llm.model import MessageRole
from src.domain.shared.errors import InvalidInput


class ModerationTransaction(AdminTransaction, ChatTransaction, KnowledgeTransaction, Protocol):
    """Admin's repositories and the messages and articles being moderated."""


MAX_MODERATION_PAGE = 100
#: The ``kind`` filter: ``message`` means every chat message, the member's and the model's.
KIND_FILTERS: dict[str, tuple[ModerationItemKind, ...]] = {
    "message": (ModerationItemKind.MESSAGE, ModerationItemKind.REPLY),
    "article": (ModerationItemKind.ARTICLE,),
    "passage": (ModerationItemKind.PASSAGE,),
    "tool_input": (ModerationItemKind.TOOL_INPUT,),
}
_AUDIT_ACTIONS = {
    ModerationAction.DISMISS: AuditAction.MODERATION_DISMISSED,
    ModerationAction.HIDE: AuditAction.MODERATION_HIDDEN,
    ModerationAction.DELETE: AuditAction.MODERATION_DELETED,
}


def _require_moderator(principal: Principal) -> None:
    if not principal.can(Permission.MODERATION_MANAGE):
        raise Forbidden("This needs the moderation:manage permission")


@dataclass(frozen=True, slots=True)
class ModerationQuery:
    status: str = "open"
    kind: str | None = None
    before: uuid.UUID | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class ModerationPage:
    items: list[ModerationItem]
    limit: int
    next_before: uuid.UUID | None


class ListModerationItems:
    def __init__(self, uow: UnitOfWorkFactory[ModerationTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: ModerationQuery) -> ModerationPage:
        _require_moderator(principal)
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
class ResolveCommand:
    item_id: uuid.UUID
    action: str
    note: str | None = None


class ResolveModerationItem:
    def __init__(self, uow: UnitOfWorkFactory[ModerationTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: ResolveCommand) -> ModerationItem:
        _require_moderator(principal)
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


@dataclass(frozen=True, slots=True)
class ReportCommand:
    kind: str
    target_id: uuid.UUID
    reason: str


@dataclass(frozen=True, slots=True)
class ReportView:
    id: uuid.UUID
    kind: ReportKind
    target_id: uuid.UUID
    created_at: datetime


class ReportContent:
    """A member reports a message of theirs (a model's reply, say) or a public article, once each.
    Content they cannot see answers ``content_not_found``, as content that does not exist does."""

    def __init__(
        self,
        uow: UnitOfWorkFactory[ModerationTransaction],
        clock: Clock,
        *,
        mask_excerpt: Callable[[str], str] | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        #: Personal data in the queue's excerpt is masked, as the scanners' excerpts are.
        self._mask = mask_excerpt or (lambda text: text)

    async def __call__(self, principal: Principal, command: ReportCommand) -> ReportView:
        kind = parse_report_kind(command.kind)
        reason = clean_report_reason(command.reason)
        now = self._clock.now()
        async with self._uow() as tx:
            item_kind, author_id, text = await _reported_content(tx, principal, kind, command.target_id)
            report = ContentReport(
                id=new_id(now),
                reporter_id=principal.user_id,
                kind=kind,
                target_id=command.target_id,
                reason=reason,
                created_at=now,
            )
            if not await tx.content_reports.add(report):
                raise AlreadyReported()
            existing = await tx.moderation_items.open_for(item_kind, command.target_id)
            if existing is not None:
                await tx.moderation_items.save(existing.reported())
            else:
                await tx.moderation_items.add(
                    ModerationItem(
                        id=new_id(now),
                        kind=item_kind,
                        target_id=command.target_id,
                        user_id=author_id,
                        reasons=(USER_REPORT_REASON,),
                        excerpt=self._mask(excerpt_of(text)),
                        status=ModerationItemStatus.OPEN,
                        created_at=now,
                        report_count=1,
                    )
                )
        return ReportView(id=report.id, kind=kind, target_id=report.target_id, created_at=now)


async def _reported_content(
    tx: ModerationTransaction, principal: Principal, kind: ReportKind, target_id: uuid.UUID
) -> tuple[ModerationItemKind, uuid.UUID, str]:
    """(queue kind, author, text) of content the reporter can see; ``ReportedContentNotFound`` otherwise."""
    if kind is ReportKind.MESSAGE:
        try:
            _, message = await owned_message(tx, principal, target_id)
        except (MessageNotFound, ConversationNotFound):
            raise ReportedContentNotFound() from None
        item_kind = ModerationItemKind.REPLY if message.role is MessageRole.ASSISTANT else ModerationItemKind.MESSAGE
        return item_kind, message.user_id, message.content
    try:
        article = await readable_article(tx, principal, target_id)
    except ArticleNotFound:
        raise ReportedContentNotFound() from None
    if not article.is_public:
        # One's own draft or private article is nobody else's concern.
        raise ReportedContentNotFound()
    return ModerationItemKind.ARTICLE, article.author_id, f"{article.title}\n{article.body}"
