"""The admin context's repositories on a unit of work's session (imported on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from src.infrastructure.persistence.sql_support import SessionScope

if TYPE_CHECKING:
    from src.infrastructure.persistence.admin_repositories import (
        SqlAuditLogRepository,
        SqlContentReportRepository,
        SqlModerationItemRepository,
    )


class AdminRepositories(SessionScope):
    """The admin context's repositories on a unit of work's session: a base of ``SqlAlchemyUnitOfWork``."""

    @property
    def audit(self) -> SqlAuditLogRepository:
        from src.infrastructure.persistence.admin_repositories import SqlAuditLogRepository

        return SqlAuditLogRepository(self.session)

    @property
    def moderation_items(self) -> SqlModerationItemRepository:
        from src.infrastructure.persistence.admin_repositories import SqlModerationItemRepository

        return SqlModerationItemRepository(self.session, lock_rows=not self.read_only)

    @property
    def content_reports(self) -> SqlContentReportRepository:
        from src.infrastructure.persistence.admin_repositories import SqlContentReportRepository

        return SqlContentReportRepository(self.session)
