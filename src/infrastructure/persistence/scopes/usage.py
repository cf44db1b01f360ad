"""The usage context's repositories on a unit of work's session (imported on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from src.infrastructure.persistence.sql_support import SessionScope

if TYPE_CHECKING:
    from src.infrastructure.persistence.budget_repositories import SqlBudgetRepository
    from src.infrastructure.persistence.usage_repositories import SqlUsageRepository


class UsageRepositories(SessionScope):
    """The usage context's repositories on a unit of work's session: a base of ``SqlAlchemyUnitOfWork``."""

    @property
    def usage(self) -> SqlUsageRepository:
        from src.infrastructure.persistence.usage_repositories import SqlUsageRepository

        return SqlUsageRepository(self.session)

    @property
    def budgets(self) -> SqlBudgetRepository:
        from src.infrastructure.persistence.budget_repositories import SqlBudgetRepository

        return SqlBudgetRepository(self.session)
