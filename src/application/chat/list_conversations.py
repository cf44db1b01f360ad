"""ListConversations: the caller's own conversations, latest activity first."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.chat.access import require_chat
from src.application.chat.ports import ChatTransaction
from src.application.chat.views import ConversationPage, ConversationView
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.model import Principal
from src.domain.shared.errors import InvalidInput

MAX_PAGE_SIZE = 100
MAX_QUERY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class ListConversationsQuery:
    #: Part of the title, case-insensitive.
    query: str | None = None
    #: ``False`` (the default): active ones; ``True``: archived ones; ``None``: both.
    archived: bool | None = False
    limit: int = 20
    offset: int = 0


class ListConversations:
    def __init__(self, uow: UnitOfWorkFactory[ChatTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, query: ListConversationsQuery) -> ConversationPage:
        require_chat(principal)
        if not 1 <= query.limit <= MAX_PAGE_SIZE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        if query.offset < 0:
            raise InvalidInput("offset must not be negative")
        text = (query.query or "").strip() or None
        if text is not None and len(text) > MAX_QUERY_LENGTH:
            raise InvalidInput(f"the search text must be at most {MAX_QUERY_LENGTH} characters")
        async with self._uow(read_only=True) as tx:
            found, total = await tx.conversations.list_for_user(
                principal.user_id,
                query=text,
                archived=query.archived,
                limit=query.limit,
                offset=query.offset,
            )
        now = self._clock.now()
        return ConversationPage(
            items=[ConversationView.of(c, now) for c in found], total=total, limit=query.limit, offset=query.offset
        )
