"""The chat context's repositories on a unit of work's session (imported on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from src.infrastructure.persistence.sql_support import SessionScope

if TYPE_CHECKING:
    from src.infrastructure.persistence.chat_repositories import SqlConversationRepository
    from src.infrastructure.persistence.message_repository import SqlMessageRepository


class ChatRepositories(SessionScope):
    """The chat context's repositories on a unit of work's session: a base of ``SqlAlchemyUnitOfWork``."""

    @property
    def conversations(self) -> SqlConversationRepository:
        from src.infrastructure.persistence.chat_repositories import SqlConversationRepository

        return SqlConversationRepository(self.session)

    @property
    def messages(self) -> SqlMessageRepository:
        from src.infrastructure.persistence.message_repository import SqlMessageRepository

        return SqlMessageRepository(self.session)
