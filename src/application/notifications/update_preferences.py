"""UpdatePreferences: the caller changes their notification preferences (only what is given changes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from src.application.notifications.ports import NotificationsTransaction
from src.application.notifications.views import PreferencesView
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.model import Principal


@dataclass(frozen=True, slots=True)
class UpdatePreferencesCommand:
    changes: Mapping[str, Mapping[str, Any]]


class UpdatePreferences:
    """``{category: {in_app?, email?}}``: the categories and channels given change, the rest stay."""

    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: UpdatePreferencesCommand) -> PreferencesView:
        async with self._uow() as tx:
            current = await tx.notification_preferences.get(principal.user_id)
            updated = current.updated(command.changes)
            await tx.notification_preferences.save(principal.user_id, updated, self._clock.now())
        return PreferencesView.of(updated)
