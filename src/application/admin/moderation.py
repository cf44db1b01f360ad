"""What the moderation use cases share (``list_moderation_items``, ``resolve_moderation_item``,
``report_content``): the queue, worked by staff (``moderation:manage``), and members' reports that feed it.

Items come from the scanners (prompt injection, ``MODERATE_CHAT``) and from reports. Resolving one
dismisses it, hides the content (a hidden public article is read by its author and staff only) or
deletes it, and records the decision in the audit log, all in one transaction. Open items about the
same content are resolved with it: one decision per piece of content.
"""

from __future__ import annotations

from typing import Protocol

from src.application.admin.ports import AdminTransaction
from src.application.chat.ports import ChatTransaction
from src.application.knowledge.ports import KnowledgeTransaction
from src.domain.ai.moderation_queue import (
    ModerationItemKind,
)
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal


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


def require_moderator(principal: Principal) -> None:
    if not principal.can(Permission.MODERATION_MANAGE):
        raise Forbidden("This needs the moderation:manage permission")
