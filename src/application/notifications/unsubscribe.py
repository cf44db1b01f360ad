"""Unsubscribe: a signed unsubscribe link turns off the emails of one category (no sign-in needed)."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.notifications.ports import NotificationsTransaction, UnsubscribeLinks
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.notifications.model import ChannelChoice, Preferences


@dataclass(frozen=True, slots=True)
class UnsubscribeCommand:
    token: str


class Unsubscribe:
    """RFC 8058 one-click: the signed link of a mail turns that category's e-mail off (no sign-in)."""

    def __init__(self, uow: UnitOfWorkFactory[NotificationsTransaction], clock: Clock, links: UnsubscribeLinks) -> None:
        self._uow = uow
        self._clock = clock
        self._links = links

    async def __call__(self, command: UnsubscribeCommand) -> str:
        user_id, category = self._links.verify(command.token)
        async with self._uow() as tx:
            current = await tx.notification_preferences.get(user_id)
            choices = {c: current.of(c) for c in current.choices} | {
                category: ChannelChoice(in_app=current.of(category).in_app, email=False)
            }
            await tx.notification_preferences.save(user_id, Preferences(choices), self._clock.now())
        return category.value
