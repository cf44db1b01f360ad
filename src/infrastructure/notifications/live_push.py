"""``LivePush`` over the user-event bus: a ``notification`` event to every open client of the user,
on every instance (Redis pub/sub), or on this one alone without Redis."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from src.application.chat.ports import UserEvent, UserEvents


class UserEventLivePush:
    def __init__(self, events: UserEvents) -> None:
        self._events = events

    async def push(self, user_id: uuid.UUID, notification: Mapping[str, Any]) -> None:
        await self._events.publish(UserEvent(type="notification", user_id=user_id, data=dict(notification)))
