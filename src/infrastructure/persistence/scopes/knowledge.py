"""The knowledge context's repositories on a unit of work's session (imported on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from src.infrastructure.persistence.sql_support import SessionScope

if TYPE_CHECKING:
    from src.infrastructure.persistence.knowledge_repositories import (
        SqlArticleRepository,
        SqlParagraphRepository,
        SqlWordCountRepository,
    )


class KnowledgeRepositories(SessionScope):
    """The knowledge context's repositories on a unit of work's session: a base of ``SqlAlchemyUnitOfWork``."""

    @property
    def articles(self) -> SqlArticleRepository:
        from src.infrastructure.persistence.knowledge_repositories import SqlArticleRepository

        return SqlArticleRepository(self.session)

    @property
    def paragraphs(self) -> SqlParagraphRepository:
        from src.infrastructure.persistence.knowledge_repositories import SqlParagraphRepository

        return SqlParagraphRepository(self.session)

    @property
    def word_counts(self) -> SqlWordCountRepository:
        from src.infrastructure.persistence.knowledge_repositories import SqlWordCountRepository

        return SqlWordCountRepository(self.session)
