"""The notifications context's repositories on a unit of work's session (imported on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from src.infrastructure.persistence.sql_support import SessionScope

if TYPE_CHECKING:
    from src.infrastructure.persistence.notification_repositories import (
        SqlEmailRepository,
        SqlNotificationRepository,
        SqlPreferenceRepository,
    )


class NotificationRepositories(SessionScope):
    """The notifications context's repositories on a unit of work's session: a base of ``SqlAlchemyUnitOfWork``."""

    @property
    def notifications(self) -> SqlNotificationRepository:
        from src.infrastructure.persistence.notification_repositories import SqlNotificationRepository

        return SqlNotificationRepository(self.session)

    @property
    def notification_preferences(self) -> SqlPreferenceRepository:
        from src.infrastructure.persistence.notification_repositories import SqlPreferenceRepository

        return SqlPreferenceRepository(self.session)

    @property
    def emails(self) -> SqlEmailRepository:
        from src.infrastructure.persistence.notification_repositories import SqlEmailRepository

        return SqlEmailRepository(self.session)
