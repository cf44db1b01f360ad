"""The ``AccessChanges`` port on the per-user event bus: an ``access_changed`` event reaches every
open client of the user on every instance (through Redis pub/sub when configured), and each open
WebSocket checks its credentials again, closing with 4401 when they no longer hold."""

from __future__ import annotations

import uuid

from src.application.chat.ports import UserEvent, UserEvents


class UserEventAccessChanges:
    """Implements ``AccessChanges``."""

    def __init__(self, events: UserEvents) -> None:
        self._events = events

    async def access_changed(self, user_id: uuid.UUID) -> None:
        await self._events.publish(UserEvent(type="access_changed", user_id=user_id))
