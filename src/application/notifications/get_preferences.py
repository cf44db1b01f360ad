"""GetPreferences: the caller's notification preferences."""

from __future__ import annotations

from src.application.notifications.ports import NotificationsTransaction
from src.application.notifications.views import PreferencesView
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.model import Principal


class GetPreferences:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> PreferencesView:
        async with self._uow(read_only=True) as tx:
            return PreferencesView.of(await tx.notification_preferences.get(principal.user_id))
