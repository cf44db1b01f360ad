"""Per-user events (``reply_started``, ``reply_finished``, ``title``) for every open client of a user.

Local subscribers get an event at once; with Redis it is also published on ``parley:user:<id>``,
which every instance with a subscriber of that user listens to (one subscription per user per
instance, through the process's ``PubSubHub``). Without Redis, or while it is unreachable, only
this instance's subscribers hear it.

Each subscription has a bounded queue. A subscriber that falls ``queue_size`` events behind gets
``EventsLost`` from its iterator (the events are dropped, never buffered without bound).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import msgspec

from src.application.chat.ports import EventsLost, UserEvent
from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS

if TYPE_CHECKING:
    from src.infrastructure.realtime.pubsub import PubSubHub  # Redis is imported only where Redis is configured

logger = get_logger("parley.realtime")

CHANNEL_PREFIX = "parley:user:"
DEFAULT_QUEUE_SIZE = 256

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def user_channel(user_id: uuid.UUID) -> str:
    return f"{CHANNEL_PREFIX}{user_id}"


class _Subscription:
    __slots__ = ("lost", "queue")

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[UserEvent] = asyncio.Queue(maxsize=size)
        self.lost = False

    def offer(self, event: UserEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lost = True
            METRICS.user_events_dropped.inc()

    async def events(self) -> AsyncIterator[UserEvent]:
        while True:
            if self.lost:
                self.lost = False
                raise EventsLost("this subscriber fell behind and events were dropped")
            yield await self.queue.get()


class PubSubUserEvents:
    """The ``UserEvents`` port."""

    def __init__(self, hub: PubSubHub | None = None, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._hub = hub
        self._queue_size = queue_size
        self._local: defaultdict[uuid.UUID, set[_Subscription]] = defaultdict(set)
        self._tokens: dict[uuid.UUID, int] = {}

    def subscribers(self, user_id: uuid.UUID) -> int:
        return len(self._local.get(user_id, ()))

    async def publish(self, event: UserEvent) -> None:
        self._deliver(event)
        if self._hub is not None:
            payload = _encoder.encode({"type": event.type, "user_id": str(event.user_id), "data": dict(event.data)})
            await self._hub.publish(user_channel(event.user_id), payload)

    def _deliver(self, event: UserEvent) -> None:
        for subscription in list(self._local.get(event.user_id, ())):
            subscription.offer(event)

    def _heard(self, payload: bytes) -> None:
        try:
            raw = _decoder.decode(payload)
            event = UserEvent(type=raw["type"], user_id=uuid.UUID(raw["user_id"]), data=raw.get("data") or {})
        except (msgspec.DecodeError, KeyError, TypeError, ValueError):
            logger.warning("user_event_undecodable")
            return
        self._deliver(event)

    @asynccontextmanager
    async def subscribe(self, user_id: uuid.UUID) -> AsyncIterator[AsyncIterator[UserEvent]]:
        subscription = _Subscription(self._queue_size)
        first = not self._local[user_id]
        self._local[user_id].add(subscription)
        if first and self._hub is not None:
            self._tokens[user_id] = await self._hub.subscribe(user_channel(user_id), self._heard)
        try:
            yield subscription.events()
        finally:
            subscribers = self._local.get(user_id)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._local[user_id]
                    token = self._tokens.pop(user_id, None)
                    if token is not None and self._hub is not None:
                        self._hub.unsubscribe(user_channel(user_id), token)
