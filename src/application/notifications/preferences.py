"""Notification preferences: read, change (validated), and the one-click unsubscribe from a mail."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from src.application.notifications.ports import NotificationsTransaction, UnsubscribeLinks
from src.application.notifications.views import PreferencesView
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.model import Principal
from src.domain.notifications.model import ChannelChoice, Preferences


class GetPreferences:
    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> PreferencesView:
        async with self._uow(read_only=True) as tx:
            return PreferencesView.of(await tx.notification_preferences.get(principal.user_id))


class UpdatePreferences:
    """``{category: {in_app?, email?}}``: the categories and channels given change, the rest stay."""

    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, changes: Mapping[str, Mapping[str, Any]]) -> PreferencesView:
        async with self._uow() as tx:
            current = await tx.notification_preferences.get(principal.user_id)
            updated = current.updated(changes)
            await tx.notification_preferences.save(principal.user_id, updated, self._clock.now())
        return PreferencesView.of(updated)


class Unsubscribe:
    """RFC 8058 one-click: the signed link of a mail turns that category's e-mail off (no sign-in)."""

    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction], clock: Clock, links: UnsubscribeLinks) -> None:
        self._uow = uow
        self._clock = clock
        self._links = links

    async def __call__(self, token: str) -> str:
        user_id, category = self._links.verify(token)
        async with self._uow() as tx:
            current = await tx.notification_preferences.get(user_id)
            choices = {c: current.of(c) for c in current.choices} | {
                category: ChannelChoice(in_app=current.of(category).in_app, email=False)
            }
            await tx.notification_preferences.save(user_id, Preferences(choices), self._clock.now())
        return category.value
