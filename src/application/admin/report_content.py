"""ReportContent: a user reports a message or an article for review."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from src.application.admin.moderation import ModerationTransaction
from src.application.chat.access import owned_message
from src.application.knowledge.articles import readable_article
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.moderation import (
    AlreadyReported,
    ContentReport,
    ReportedContentNotFound,
    ReportKind,
    clean_report_reason,
    parse_report_kind,
)
from src.domain.ai.moderation_queue import (
    USER_REPORT_REASON,
    ModerationItem,
    ModerationItemKind,
    ModerationItemStatus,
    excerpt_of,
)
from src.domain.chat.errors import ConversationNotFound, MessageNotFound
from src.domain.identity.model import Principal
from src.domain.knowledge.errors import ArticleNotFound
from src.domain.llm.model import MessageRole


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

    async def __call__(self, principal: Principal, command: ReportContentCommand) -> ReportView:
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


@dataclass(frozen=True, slots=True)
class ReportContentCommand:
    kind: str
    target_id: uuid.UUID
    reason: str


@dataclass(frozen=True, slots=True)
class ReportView:
    id: uuid.UUID
    kind: ReportKind
    target_id: uuid.UUID
    created_at: datetime


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
